package inferkit_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"reflect"
	"testing"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// tiny_cnn with the image pipeline of the Python reference and the top 2 labelled classes.
func imageModel(t *testing.T) *inferkit.Model {
	t.Helper()
	toml := fmt.Sprintf(`image = [ { op = "resize", width = 8, height = 8 } ]
pre = [ { op = "scale", factor = 0.00392156862745098 },
        { op = "normalize", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] },
        { op = "layout", from = "hwc", to = "chw" }, { op = "add_batch_dim" } ]
post = [ { op = "top_k", k = 2, labels = %q } ]
`, fixture("tiny_cnn_labels.txt"))
	m, err := inferkit.Open(fixture("tiny_cnn.onnx"), inferkit.WithPipelineTOML(toml))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func infer(t *testing.T, m *inferkit.Model, in inferkit.Input) *inferkit.Outputs {
	t.Helper()
	out, err := m.Infer(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameOutputs(t *testing.T, what string, a, b *inferkit.Outputs) {
	t.Helper()
	if !reflect.DeepEqual(a.Names(), b.Names()) || !reflect.DeepEqual(a.Classes(), b.Classes()) {
		t.Fatalf("%s: %v %v and %v %v", what, a.Names(), a.Classes(), b.Names(), b.Classes())
	}
	for _, n := range a.Names() {
		_, _, da, _ := a.Raw(n)
		_, _, db, _ := b.Raw(n)
		if !bytes.Equal(da, db) {
			t.Fatalf("%s: output %s differs", what, n)
		}
	}
}

func TestImagePipeline(t *testing.T) {
	m := imageModel(t)
	src := readPack(t, "resize.tpk")[0] // RGB8 pixels, [h, w, 3]
	h, w := int(src.Shape[0]), int(src.Shape[1])
	raw := infer(t, m, inferkit.Pixels(src.Data, inferkit.RGB8, w, h, w*3))

	// the reference logits (Python) and the classes of a top_k step
	logits, shape, err := inferkit.Output[float32](raw, raw.Names()[0])
	want := readPack(t, "tiny_cnn.outputs.tpk")[0].floats()
	if err != nil || len(logits) != 4 || len(shape) != 2 {
		t.Fatalf("logits %v %v %v", logits, shape, err)
	}
	best := 0
	for i := range want {
		if d := logits[i] - want[i]; d > 0.02*max(1, abs(want[i])) || -d > 0.02*max(1, abs(want[i])) {
			t.Fatalf("logit %d: %g, Python %g", i, logits[i], want[i])
		}
		if want[i] > want[best] {
			best = i
		}
	}
	classes := raw.Classes()
	colors := []string{"red", "green", "blue", "gray"}
	if len(classes) != 1 || len(classes[0]) != 2 || classes[0][0].Index != best || classes[0][0].Label != colors[best] ||
		classes[0][0].Score != logits[best] || classes[0][1].Score > classes[0][0].Score {
		t.Fatalf("classes %+v, logits %v", classes, logits)
	}

	// image.Image of the same pixels, in several Go image types
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	bgr := make([]byte, len(src.Data))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := src.Data[(y*w+x)*3:]
			rgba.SetRGBA(x, y, color.RGBA{p[0], p[1], p[2], 255})
			nrgba.SetNRGBA(x, y, color.NRGBA{p[0], p[1], p[2], 255})
			copy(bgr[(y*w+x)*3:], []byte{p[2], p[1], p[0]})
		}
	}
	sameOutputs(t, "image.RGBA", raw, infer(t, m, inferkit.Image(rgba)))
	sameOutputs(t, "image.NRGBA", raw, infer(t, m, inferkit.Image(nrgba)))
	sameOutputs(t, "BGR8", raw, infer(t, m, inferkit.Pixels(bgr, inferkit.BGR8, w, h, w*3)))
	// a sub-image: only its bounds are read
	big := image.NewRGBA(image.Rect(0, 0, w+5, h+3))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			big.Set(x+5, y+3, rgba.At(x, y))
		}
	}
	sameOutputs(t, "sub-image", raw, infer(t, m, inferkit.Image(big.SubImage(image.Rect(5, 3, w+5, h+3)))))

	// PNG bytes decoded by inferkit, and by Go's image/png, give the raw pixels' result
	pngBytes, err := os.ReadFile(fixture("image.png"))
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "EncodedImage(PNG)", raw, infer(t, m, inferkit.EncodedImage(pngBytes)))
	decoded, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "png.Decode", raw, infer(t, m, inferkit.Image(decoded)))

	// what the pipeline refuses, when the request runs
	_, err = m.Infer(context.Background(), inferkit.Pixels(src.Data, inferkit.RGB8, 0, h, w*3))
	wantCode(t, err, inferkit.CodePipelineStep, "")
	_, err = m.Infer(context.Background(), inferkit.Pixels(src.Data, inferkit.Gray8, w, h, w))
	wantCode(t, err, inferkit.CodePipelineStep, "Normalize")
	_, err = m.Infer(context.Background(), inferkit.EncodedImage(pngBytes[:16]))
	wantCode(t, err, inferkit.CodePipelineStep, "decode")
	_, err = m.Infer(context.Background(), inferkit.Pixels(src.Data, inferkit.PixelFormat(9), w, h, w*3))
	wantCode(t, err, inferkit.CodeInvalidArgument, "")
	// negative sizes are refused before inferkit sees them
	_, err = m.Infer(context.Background(), inferkit.Pixels(nil, inferkit.RGB8, -1, h, w*3))
	wantCode(t, err, inferkit.CodeInvalidArgument, "negative")
}

func abs(f float32) float32 {
	if f < 0 {
		return -f
	}
	return f
}

func TestTokensPipeline(t *testing.T) {
	m, err := inferkit.Open(fixture("tiny_text.onnx"), inferkit.WithPipelineTOML("sequence = { max_length = 6 }"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, ids := range [][]int64{{5, 7, 9}, {1, 2, 3, 4, 5, 6, 7, 8}} {
		out := infer(t, m, inferkit.Tokens(ids))
		y, _, err := inferkit.Output[int64](out, out.Names()[0])
		// the sum of the ids, padding masked out; only the first 6 ids are kept
		if err != nil || len(y) != 1 || y[0] != 21 {
			t.Fatalf("tokens %v: %v %v", ids, y, err)
		}
		if out.Classes() != nil {
			t.Fatal("classes without top_k")
		}
	}
	_, err = m.Infer(context.Background(), inferkit.Text("hello"))
	wantCode(t, err, inferkit.CodePipelineConfig, "text")
	_, err = m.Infer(context.Background(), inferkit.Text("\xff"))
	wantCode(t, err, inferkit.CodeInvalidArgument, "UTF-8")
}

// A raw tensor through pre steps equals the same steps done by hand.
func TestPipelineTensor(t *testing.T) {
	p, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithPipelineTOML(
		`pre = [ { op = "scale", factor = 0.5, offset = 1.0 }, { op = "clip", min = -2.0, max = 4.0 }, { op = "add_batch_dim" } ]`))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plain, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	raw, byHand, u8 := make([]float32, 16), make([]float32, 16), make([]uint8, 16)
	for i := range raw {
		raw[i] = float32(i) - 5
		byHand[i] = min(max(raw[i]*0.5+1, -2), 4)
	}
	sameOutputs(t, "f32 pre steps", infer(t, p, inferkit.PipelineTensor(inferkit.NewTensor(raw))),
		infer(t, plain, inferkit.Inputs{"x": inferkit.NewTensor(byHand, 1, 16)}))
	for i := range u8 {
		u8[i] = uint8(i)
		byHand[i] = min(max(float32(i)*0.5+1, -2), 4)
	}
	sameOutputs(t, "u8 pre steps", infer(t, p, inferkit.PipelineTensor(inferkit.NewTensor(u8))),
		infer(t, plain, inferkit.Inputs{"x": inferkit.NewTensor(byHand, 1, 16)}))
}
