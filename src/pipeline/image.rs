//! Image input and image steps: raw pixels in, a u8 HWC tensor out for the numeric steps.
//!
//! Resizing uses `fast_image_resize` (SIMD, the same convolution as Pillow's `resize`).

use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::{U8x3, U8};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Layout of one pixel in memory (`inferkit_pixel_format` in C).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Red, green, blue; one byte each.
    Rgb8 = 0,
    /// Blue, green, red; one byte each (OpenCV's order).
    Bgr8 = 1,
    /// Red, green, blue, alpha; one byte each.
    Rgba8 = 2,
    /// One gray byte.
    Gray8 = 3,
}

impl PixelFormat {
    /// The format with this number.
    pub fn from_u32(v: u32) -> Option<PixelFormat> {
        [Self::Rgb8, Self::Bgr8, Self::Rgba8, Self::Gray8]
            .into_iter()
            .find(|f| *f as u32 == v)
    }

    /// Bytes per pixel.
    pub fn bytes(self) -> usize {
        match self {
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Rgba8 => 4,
            Self::Gray8 => 1,
        }
    }
}

/// Raw pixels borrowed from the caller: `height` rows of `width` pixels, rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    pixels: &'a [u8],
    format: PixelFormat,
    width: usize,
    height: usize,
    stride: usize,
}

fn image_error(reason: String) -> Error {
    Error::PipelineStep {
        model: String::new(),
        step: "image".into(),
        reason,
    }
}

impl<'a> ImageView<'a> {
    /// Checks and wraps raw pixels. Errors (`PipelineStep`, step `image`): a zero width or height, a
    /// stride shorter than a row, fewer bytes than the rows need.
    pub fn new(
        pixels: &'a [u8],
        format: PixelFormat,
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<ImageView<'a>> {
        if width == 0 || height == 0 {
            return Err(image_error(format!(
                "the image is {width}×{height}: a size of zero"
            )));
        }
        let row = width
            .checked_mul(format.bytes())
            .ok_or_else(|| image_error("the row size overflows".into()))?;
        if stride < row {
            return Err(image_error(format!(
                "stride {stride} is smaller than a row ({width} pixels × {} bytes = {row})",
                format.bytes()
            )));
        }
        let need = stride
            .checked_mul(height - 1)
            .and_then(|n| n.checked_add(row))
            .ok_or_else(|| image_error("the image size overflows".into()))?;
        if pixels.len() < need {
            return Err(image_error(format!(
                "{} bytes given, {width}×{height} {format:?} with stride {stride} needs {need}",
                pixels.len()
            )));
        }
        Ok(ImageView {
            pixels,
            format,
            width,
            height,
            stride,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
}

/// Decodes PNG or JPEG bytes to RGB8 pixels: `(pixels, width, height)`, refusing images of more
/// than [`super::DEFAULT_MAX_PIXELS`] pixels. Needs the `decode` cargo feature (on by default);
/// without it the error is [`Error::Unsupported`] naming the feature.
pub fn decode(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize)> {
    decode_limited(bytes, super::DEFAULT_MAX_PIXELS)
}

/// Like [`decode`], refusing images of more than `max_pixels` pixels. The size is read from the
/// image's header before any pixel is decoded, so a small file that declares a huge image costs
/// nothing: [`Error::PipelineStep`] (step `decode`) says how large it is and what the limit is.
pub fn decode_limited(bytes: &[u8], max_pixels: u64) -> Result<(Vec<u8>, usize, usize)> {
    #[cfg(feature = "decode")]
    {
        let fail = |reason: String| Error::PipelineStep {
            model: String::new(),
            step: "decode".into(),
            reason,
        };
        let undecodable = |e: image::ImageError| {
            fail(format!("not a PNG or JPEG image inferkit can decode: {e}"))
        };
        let reader = || {
            image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| fail(format!("cannot read the image: {e}")))
        };
        let (w, h) = reader()?.into_dimensions().map_err(undecodable)?;
        let pixels = u64::from(w) * u64::from(h);
        if pixels > max_pixels {
            return Err(fail(format!(
                "the image is {w}×{h} ({pixels} pixels), more than the limit of {max_pixels} pixels (the pipeline's `max_pixels`)"
            )));
        }
        let mut decoder = reader()?;
        // The header was checked; this bounds what the decoder itself may allocate too.
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(w);
        limits.max_image_height = Some(h);
        limits.max_alloc = Some(pixels.saturating_mul(16).max(1 << 20));
        decoder.limits(limits);
        let img = decoder.decode().map_err(undecodable)?;
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        Ok((rgb.into_raw(), w, h))
    }
    #[cfg(not(feature = "decode"))]
    {
        let _ = (bytes, max_pixels);
        Err(Error::Unsupported {
            what: "decoding PNG and JPEG".into(),
            feature: Some("decode"),
        })
    }
}

/// An owned RGB (or gray) image in contiguous rows, what image steps work on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pixels {
    pub(crate) data: Vec<u8>,
    pub(crate) width: usize,
    pub(crate) height: usize,
    /// 3 (RGB) or 1 (gray).
    pub(crate) channels: usize,
}

impl Pixels {
    /// Copies an image into contiguous RGB (or gray), dropping alpha and reordering BGR.
    pub(crate) fn from_view(v: &ImageView<'_>) -> Pixels {
        let channels = if v.format == PixelFormat::Gray8 { 1 } else { 3 };
        let mut data = Vec::with_capacity(v.width * v.height * channels);
        for y in 0..v.height {
            let row = &v.pixels[y * v.stride..y * v.stride + v.width * v.format.bytes()];
            match v.format {
                PixelFormat::Rgb8 | PixelFormat::Gray8 => data.extend_from_slice(row),
                PixelFormat::Bgr8 => row
                    .chunks_exact(3)
                    .for_each(|p| data.extend_from_slice(&[p[2], p[1], p[0]])),
                PixelFormat::Rgba8 => row
                    .chunks_exact(4)
                    .for_each(|p| data.extend_from_slice(&p[..3])),
            }
        }
        Pixels {
            data,
            width: v.width,
            height: v.height,
            channels,
        }
    }

    /// As a u8 tensor `[height, width, channels]`.
    pub(crate) fn into_tensor(self) -> Result<Tensor> {
        Tensor::from_vec(vec![self.height, self.width, self.channels], self.data)
    }
}

/// How [`ImageStep::Resize`] fits the image into `width × height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Stretch to exactly `width × height`.
    #[default]
    Exact,
    /// Keep the aspect ratio; pad the rest with `pad` (letterbox), image centred.
    Letterbox,
    /// Keep the aspect ratio; scale the shorter side to fit, then crop the centre.
    ShorterSide,
}

/// Resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Bilinear (Pillow's `BILINEAR`).
    #[default]
    Bilinear,
    /// Nearest neighbour.
    Nearest,
    /// Bilinear interpolation of the 2×2 nearest pixels, without antialiasing (OpenCV's
    /// `INTER_LINEAR`): much less work than `bilinear` when shrinking a lot, at some aliasing.
    Linear,
}

/// An image step; image steps come before the numeric steps of a pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageStep {
    /// Resizes to `width × height`.
    Resize {
        /// Target width.
        width: usize,
        /// Target height.
        height: usize,
        /// How to fit (default exact).
        #[serde(default)]
        fit: Fit,
        /// Resampling filter (default bilinear).
        #[serde(default)]
        filter: Filter,
        /// Padding value for `letterbox` (default 0).
        #[serde(default)]
        pad: u8,
    },
    /// Keeps the rectangle at (`x`, `y`) of `width × height`.
    Crop {
        /// Left edge.
        x: usize,
        /// Top edge.
        y: usize,
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// Reverses the channel order (RGB ↔ BGR) for models trained on BGR.
    SwapChannels,
}

/// Longest side an image step may produce or crop at, in pixels.
pub const MAX_IMAGE_SIDE: usize = 16_384;

impl ImageStep {
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        match self {
            ImageStep::Resize { width, height, .. } | ImageStep::Crop { width, height, .. }
                if *width == 0 || *height == 0 =>
            {
                Err(format!("a size of zero ({width}×{height})"))
            }
            ImageStep::Resize { width, height, .. } | ImageStep::Crop { width, height, .. }
                if *width > MAX_IMAGE_SIDE || *height > MAX_IMAGE_SIDE =>
            {
                Err(format!(
                    "{width}×{height}: a side is longer than {MAX_IMAGE_SIDE} pixels"
                ))
            }
            ImageStep::Crop { x, y, .. } if *x > MAX_IMAGE_SIDE || *y > MAX_IMAGE_SIDE => Err(
                format!("the crop's corner ({x}, {y}) is beyond {MAX_IMAGE_SIDE} pixels"),
            ),
            _ => Ok(()),
        }
    }

    pub(crate) fn apply(&self, p: Pixels) -> std::result::Result<Pixels, String> {
        match self {
            ImageStep::SwapChannels => {
                if p.channels != 3 {
                    return Ok(p);
                }
                let mut data = p.data;
                data.chunks_exact_mut(3).for_each(|px| px.swap(0, 2));
                Ok(Pixels { data, ..p })
            }
            ImageStep::Crop {
                x,
                y,
                width,
                height,
            } => {
                if x + width > p.width || y + height > p.height {
                    return Err(format!(
                        "the crop {width}×{height} at ({x}, {y}) leaves the {}×{} image",
                        p.width, p.height
                    ));
                }
                let c = p.channels;
                let mut data = Vec::with_capacity(width * height * c);
                for row in *y..y + height {
                    let start = (row * p.width + x) * c;
                    data.extend_from_slice(&p.data[start..start + width * c]);
                }
                Ok(Pixels {
                    data,
                    width: *width,
                    height: *height,
                    channels: c,
                })
            }
            ImageStep::Resize {
                width,
                height,
                fit,
                filter,
                pad,
            } => {
                let alg = algorithm(*filter);
                match fit {
                    Fit::Exact => resize(&p, *width, *height, ResizeOptions::new().resize_alg(alg)),
                    Fit::ShorterSide => resize(
                        &p,
                        *width,
                        *height,
                        ResizeOptions::new()
                            .resize_alg(alg)
                            .fit_into_destination(Some((0.5, 0.5))),
                    ),
                    Fit::Letterbox => {
                        let scale =
                            (*width as f64 / p.width as f64).min(*height as f64 / p.height as f64);
                        let nw = ((p.width as f64 * scale).round() as usize).clamp(1, *width);
                        let nh = ((p.height as f64 * scale).round() as usize).clamp(1, *height);
                        let inner = resize(&p, nw, nh, ResizeOptions::new().resize_alg(alg))?;
                        let c = p.channels;
                        let mut data = vec![*pad; width * height * c];
                        let (ox, oy) = ((width - nw) / 2, (height - nh) / 2);
                        for row in 0..nh {
                            let dst = ((oy + row) * width + ox) * c;
                            data[dst..dst + nw * c]
                                .copy_from_slice(&inner.data[row * nw * c..(row + 1) * nw * c]);
                        }
                        Ok(Pixels {
                            data,
                            width: *width,
                            height: *height,
                            channels: c,
                        })
                    }
                }
            }
        }
    }
}

fn resize(
    p: &Pixels,
    width: usize,
    height: usize,
    options: ResizeOptions,
) -> std::result::Result<Pixels, String> {
    resize_bytes(
        &p.data, p.width, p.height, p.channels, width, height, options,
    )
}

fn algorithm(filter: Filter) -> ResizeAlg {
    match filter {
        Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
        Filter::Nearest => ResizeAlg::Nearest,
        Filter::Linear => ResizeAlg::Interpolation(FilterType::Bilinear),
    }
}

fn resize_bytes(
    data: &[u8],
    src_w: usize,
    src_h: usize,
    channels: usize,
    width: usize,
    height: usize,
    options: ResizeOptions,
) -> std::result::Result<Pixels, String> {
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| format!("{v} pixels is too large"));
    let (src_w, src_h, dst_w, dst_h) = (
        to_u32(src_w)?,
        to_u32(src_h)?,
        to_u32(width)?,
        to_u32(height)?,
    );
    let len = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| format!("{width}x{height} pixels is too large"))?;
    let mut out = vec![0u8; len];
    // The typed entry point compiles the resizer for the two pixel types pipelines use (RGB8 and
    // gray8) only; the untyped one carries every pixel type and its SIMD variants (2.8 MB of the
    // library).
    let mut resizer = Resizer::new();
    let result = if channels == 3 {
        let src =
            TypedImageRef::<U8x3>::from_buffer(src_w, src_h, data).map_err(|e| e.to_string())?;
        let mut dst =
            TypedImage::<U8x3>::from_buffer(dst_w, dst_h, &mut out).map_err(|e| e.to_string())?;
        resizer.resize_typed(&src, &mut dst, &options)
    } else {
        let src =
            TypedImageRef::<U8>::from_buffer(src_w, src_h, data).map_err(|e| e.to_string())?;
        let mut dst =
            TypedImage::<U8>::from_buffer(dst_w, dst_h, &mut out).map_err(|e| e.to_string())?;
        resizer.resize_typed(&src, &mut dst, &options)
    };
    result.map_err(|e| e.to_string())?;
    Ok(Pixels {
        data: out,
        width,
        height,
        channels,
    })
}

impl ImageStep {
    /// Runs this step straight on the caller's pixels when that avoids copying the whole image:
    /// an exact or shorter-side resize of tightly packed RGB8 or gray rows. `None` otherwise.
    pub(crate) fn apply_view(
        &self,
        v: &ImageView<'_>,
    ) -> Option<std::result::Result<Pixels, String>> {
        let channels = match v.format {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Gray8 => 1,
            _ => return None,
        };
        if v.stride != v.width * channels {
            return None;
        }
        match self {
            ImageStep::Resize {
                width,
                height,
                fit: fit @ (Fit::Exact | Fit::ShorterSide),
                filter,
                ..
            } => {
                let mut options = ResizeOptions::new().resize_alg(algorithm(*filter));
                if *fit == Fit::ShorterSide {
                    options = options.fit_into_destination(Some((0.5, 0.5)));
                }
                let bytes = &v.pixels[..v.stride * v.height];
                Some(resize_bytes(
                    bytes, v.width, v.height, channels, *width, *height, options,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_checked() {
        let px = [0u8; 64];
        let err = |r: Result<ImageView<'_>>| r.unwrap_err().to_string();
        assert!(err(ImageView::new(&px, PixelFormat::Rgb8, 0, 2, 6)).contains("size of zero"));
        assert!(err(ImageView::new(&px, PixelFormat::Rgb8, 4, 2, 8))
            .contains("stride 8 is smaller than a row"));
        assert!(err(ImageView::new(&px, PixelFormat::Rgba8, 4, 5, 16)).contains("needs 80"));
        assert!(ImageView::new(&px, PixelFormat::Rgb8, 4, 2, 16).is_ok());
        assert_eq!(PixelFormat::from_u32(9), None);
    }

    #[test]
    fn formats_become_rgb_and_strides_are_honoured() {
        // 2×2 BGRA-less: BGR with a padded stride of 8 bytes per row
        let bgr = [1u8, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99];
        let p = Pixels::from_view(&ImageView::new(&bgr, PixelFormat::Bgr8, 2, 2, 8).unwrap());
        assert_eq!(p.data, vec![3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
        let rgba = [1u8, 2, 3, 255, 4, 5, 6, 255];
        let p = Pixels::from_view(&ImageView::new(&rgba, PixelFormat::Rgba8, 2, 1, 8).unwrap());
        assert_eq!(p.data, vec![1, 2, 3, 4, 5, 6]);
    }

    fn gradient(w: usize, h: usize) -> Pixels {
        let data = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(x * 255 / w) as u8, (y * 255 / h) as u8, 128]))
            .collect();
        Pixels {
            data,
            width: w,
            height: h,
            channels: 3,
        }
    }

    #[test]
    fn letterbox_pads_and_centres() {
        let p = ImageStep::Resize {
            width: 8,
            height: 8,
            fit: Fit::Letterbox,
            filter: Filter::Nearest,
            pad: 7,
        }
        .apply(gradient(8, 4))
        .unwrap();
        assert_eq!((p.width, p.height), (8, 8));
        assert!(
            p.data[..8 * 2 * 3].iter().all(|v| *v == 7),
            "two padded rows on top"
        );
        assert!(
            p.data[8 * 6 * 3..].iter().all(|v| *v == 7),
            "two padded rows below"
        );
        assert_ne!(p.data[8 * 3 * 3 + 2], 7, "the image in the middle");
    }

    #[test]
    fn crop_swap_and_bounds() {
        let p = ImageStep::Crop {
            x: 1,
            y: 1,
            width: 2,
            height: 1,
        }
        .apply(gradient(4, 3))
        .unwrap();
        assert_eq!((p.width, p.height, p.data.len()), (2, 1, 6));
        let s = ImageStep::SwapChannels.apply(p.clone()).unwrap();
        assert_eq!(&s.data[..3], &[p.data[2], p.data[1], p.data[0]]);
        assert!(ImageStep::Crop {
            x: 3,
            y: 0,
            width: 2,
            height: 1
        }
        .apply(gradient(4, 3))
        .unwrap_err()
        .contains("leaves"));
        let sq = ImageStep::Resize {
            width: 4,
            height: 4,
            fit: Fit::ShorterSide,
            filter: Filter::Bilinear,
            pad: 0,
        }
        .apply(gradient(8, 4))
        .unwrap();
        assert_eq!((sq.width, sq.height), (4, 4));
    }
}

#[cfg(test)]
mod pillow {
    use super::*;

    /// `tests/fixtures/resize.tpk` holds an image and Pillow's resizes of it (make_fixtures.py).
    #[test]
    fn resize_matches_pillow() {
        let pack = crate::tensor::read_tensor_pack(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resize.tpk"),
        )
        .unwrap();
        let get = |n: &str| {
            pack.iter()
                .find(|(name, _)| name == n)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        let src = get("src");
        let (h, w) = (src.shape()[0], src.shape()[1]);
        let view = ImageView::new(src.as_bytes(), PixelFormat::Rgb8, w, h, w * 3).unwrap();
        for (name, filter, tolerance) in [
            ("bilinear_16x12", Filter::Bilinear, 1u8),
            ("nearest_16x12", Filter::Nearest, 0),
        ] {
            let want = get(name);
            let got = ImageStep::Resize {
                width: 16,
                height: 12,
                fit: Fit::Exact,
                filter,
                pad: 0,
            }
            .apply(Pixels::from_view(&view))
            .unwrap();
            assert_eq!(got.data.len(), want.as_bytes().len());
            let worst = got
                .data
                .iter()
                .zip(want.as_bytes())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(
                worst <= tolerance,
                "{name}: largest difference from Pillow {worst}, allowed {tolerance}"
            );
        }
    }
}
