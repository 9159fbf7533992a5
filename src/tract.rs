//! Sessions on tract, the pure-Rust ONNX engine (the `tract` feature; see [`crate::backend`]).
//!
//! A model is parsed and optimised once into a plan that every instance shares (weights included);
//! each instance keeps its own run state, reused from run to run. tract's own code is not allowed
//! to take the host down: a panic inside it while loading or running is caught and becomes the
//! model's typed error, and a session whose run panicked gets a fresh state.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tract_onnx::prelude::{
    DatumType, Framework, InferenceModel, InferenceModelExt, IntoTValue, TDim, TValue, TVec,
    Tensor as TTensor, TractResult, TypedModel, TypedSimplePlan, TypedSimpleState,
};
use tract_onnx::tract_core::internal::{EvalContext, OpState};
use tract_onnx::tract_core::model::TypedNode;
use tract_onnx::tract_hir::infer::Factoid;

use crate::error::{Error, Result};
use crate::scheduler::watchdog::RunStop;
use crate::session::{ModelSource, OptimizationLevel, Outputs};
use crate::signature::{Dim, Signature, TensorSpec};
use crate::tensor::{DType, Tensor, TensorView};
use crate::value::{Input, Value};

/// One instance of a model on tract: the shared plan, and the state of one run at a time.
pub(crate) struct TractSession {
    plan: Arc<TypedSimplePlan>,
    state: TypedSimpleState,
}

/// The message of a panic caught inside tract.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("tract panicked: {what}")
}

/// tract's errors with their causes, on one line.
fn message(e: tract_onnx::prelude::TractError) -> String {
    format!("{e:#}")
}

/// Parses `source`, reads its signature, and makes `instances` sessions sharing one plan.
pub(crate) fn load(
    name: &str,
    source: &ModelSource<'_>,
    options: &crate::model::ModelOptions,
) -> Result<(Signature, Vec<TractSession>)> {
    let invalid = |reason: String| Error::InvalidModel {
        model: name.to_string(),
        reason,
    };
    let loaded = catch_unwind(AssertUnwindSafe(
        || -> Result<(Signature, Arc<TypedSimplePlan>)> {
            let onnx = tract_onnx::onnx();
            let (proto, dir) = match source {
                ModelSource::File(path) => (
                    onnx.proto_model_for_path(path)
                        .map_err(|e| invalid(message(e)))?,
                    path.parent().map(|p| p.to_path_buf()),
                ),
                ModelSource::Bytes(bytes, dir) => (
                    onnx.proto_model_for_read(&mut &bytes[..])
                        .map_err(|e| invalid(message(e)))?,
                    dir.map(|d| d.to_path_buf()),
                ),
            };
            let dir = dir
                .map(|d| {
                    d.to_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("`{}` is not UTF-8", d.display())))
                })
                .transpose()?;
            let mut model = onnx
                .parse(&proto, dir.as_deref())
                .map_err(|e| invalid(message(e)))?
                .model;
            fix_input_shapes(name, &mut model, &options.input_shapes)?;
            // Inputs whose shapes are not all sized: a graph tract cannot type may need them fixed.
            let open = open_inputs(&model);
            let typing = |e: tract_onnx::prelude::TractError| {
                let mut reason = message(e);
                if !open.is_empty() {
                    reason.push_str(&format!(
                        " (tract types the whole graph before it runs it, and input {} has dims the \
                         file leaves open: fixing its shape, with ModelOptions::with_input_shape \
                         or [input_shapes] in config.toml, may let it)",
                        open.join(", ")
                    ));
                }
                invalid(reason)
            };
            name_unnamed_dims(&mut model).map_err(|e| invalid(message(e)))?;
            let typed = model.into_typed().map_err(typing)?;
            let signature = signature(name, &typed)?;
            let typed = match options.session.optimization_level {
                OptimizationLevel::Disabled => typed.into_decluttered(),
                _ => typed.into_optimized(),
            }
            .map_err(typing)?;
            let plan = TypedSimplePlan::new(typed).map_err(|e| invalid(message(e)))?;
            Ok((signature, plan))
        },
    ));
    let (signature, plan) = loaded.map_err(|p| invalid(panic_message(p)))??;
    let sessions = (0..options.instances)
        .map(|_| TractSession::new(plan.clone()).map_err(invalid))
        .collect::<Result<Vec<_>>>()?;
    Ok((signature, sessions))
}

/// Prefix of the symbols given to input dims the file leaves unnamed and unsized; the signature
/// reports them as anonymous dynamic dims, as ONNX Runtime does.
const UNNAMED: &str = "__inferkit_unnamed_";

/// The names (quoted) of the inputs with a dim that is not sized, or whose rank is not known.
fn open_inputs(model: &InferenceModel) -> Vec<String> {
    (0..model.inputs.len())
        .filter(|i| {
            model.input_fact(*i).is_ok_and(|f| {
                f.shape.is_open()
                    || f.shape
                        .dims()
                        .any(|d| !matches!(d.concretize(), Some(TDim::Val(_))))
            })
        })
        .map(|i| format!("`{}`", model.node(model.inputs[i].node).name))
        .collect()
}

/// Gives every input dim without a size or a name (ONNX's `?`, which ONNX Runtime takes as any
/// size) a symbol of its own: tract needs each dim determined or symbolic before it can type the
/// graph ("Source node without a determined fact").
fn name_unnamed_dims(model: &mut InferenceModel) -> TractResult<()> {
    for i in 0..model.inputs.len() {
        let fact = model.input_fact(i)?.clone();
        if fact.shape.is_open() {
            continue;
        }
        let mut shape = fact.shape.clone();
        let mut changed = false;
        for (d, dim) in fact.shape.dims().enumerate() {
            if dim.concretize().is_none() {
                let sym = model.symbols.sym(&format!("{UNNAMED}{i}_{d}"));
                shape.set_dim(d, TDim::Sym(sym));
                changed = true;
            }
        }
        if changed {
            model.set_input_fact(i, fact.with_shape(shape))?;
        }
    }
    Ok(())
}

/// Sets the shapes the options fix ([`crate::ModelOptions::input_shapes`]) as the inputs' facts,
/// so that tract types and optimises the graph for them. Each is checked against what the file
/// declares first (its rank, its sized dims), as the signature check does on ONNX Runtime: once set,
/// the declared fact is gone. An input the model does not have is `UnknownInput`. Runs before
/// [`name_unnamed_dims`], so that errors show open dims as `?`.
fn fix_input_shapes(
    model_name: &str,
    model: &mut InferenceModel,
    shapes: &[(String, Vec<usize>)],
) -> Result<()> {
    let failed = |e: tract_onnx::prelude::TractError| Error::InvalidModel {
        model: model_name.to_string(),
        reason: message(e),
    };
    for (name, shape) in shapes {
        let outlets = model.input_outlets().map_err(failed)?;
        let Some(i) = outlets
            .iter()
            .position(|o| model.node(o.node).name == *name)
        else {
            // Refused here, not left to the signature check: the graph may not type without it.
            return Err(Error::UnknownInput {
                model: model_name.to_string(),
                input: name.clone(),
                expected: outlets
                    .iter()
                    .map(|o| model.node(o.node).name.clone())
                    .collect(),
            });
        };
        let fact = model.input_fact(i).map_err(failed)?.clone();
        let declared: Vec<Option<TDim>> = fact.shape.dims().map(|d| d.concretize()).collect();
        let fits = (fact.shape.is_open() || declared.len() == shape.len())
            && declared.iter().zip(shape).all(|(d, n)| match d {
                Some(TDim::Val(v)) => *v == *n as i64,
                _ => true,
            });
        if !fits {
            let dims: Vec<String> = declared
                .iter()
                .map(|d| d.as_ref().map_or("?".into(), |d| d.to_string()))
                .collect();
            return Err(Error::InvalidArgument {
                name: "input_shapes",
                reason: format!(
                    "model `{model_name}`: input `{name}` is [{}], which shape {shape:?} does not fit",
                    dims.join(", ")
                ),
            });
        }
        let dims: TVec<TDim> = shape.iter().map(|n| TDim::Val(*n as i64)).collect();
        model
            .set_input_fact(i, fact.with_shape(dims))
            .map_err(failed)?;
    }
    Ok(())
}

/// The signature of a typed model: its inputs (named by their nodes) and outputs (named by their
/// labels, which are the ONNX graph's output names).
fn signature(model: &str, typed: &TypedModel) -> Result<Signature> {
    let spec = |name: &str, fact: &tract_onnx::prelude::TypedFact| -> Result<TensorSpec> {
        let dtype = dtype(fact.datum_type).ok_or_else(|| Error::Unsupported {
            what: format!(
                "model `{model}`, input or output `{name}` of type {:?} on the tract backend",
                fact.datum_type
            ),
            feature: None,
        })?;
        let dims = fact
            .shape
            .iter()
            .map(|d| match d {
                TDim::Val(v) if *v >= 0 => Dim::Fixed(*v as usize),
                TDim::Sym(s) if s.to_string().starts_with(UNNAMED) => Dim::Dynamic(None),
                TDim::Sym(s) => Dim::Dynamic(Some(s.to_string())),
                _ => Dim::Dynamic(None),
            })
            .collect();
        Ok(TensorSpec::tensor(name, dtype, dims))
    };
    let failed = |e: tract_onnx::prelude::TractError| Error::InvalidModel {
        model: model.to_string(),
        reason: message(e),
    };
    let mut inputs = Vec::new();
    for outlet in typed.input_outlets().map_err(failed)? {
        let name = &typed.node(outlet.node).name;
        inputs.push(spec(name, typed.outlet_fact(*outlet).map_err(failed)?)?);
    }
    let mut outputs = Vec::new();
    for outlet in typed.output_outlets().map_err(failed)? {
        let name = typed
            .outlet_label(*outlet)
            .unwrap_or(&typed.node(outlet.node).name)
            .to_string();
        outputs.push(spec(&name, typed.outlet_fact(*outlet).map_err(failed)?)?);
    }
    Ok(Signature { inputs, outputs })
}

/// inferkit's element type for tract's; `None` for the types inferkit does not exchange (tract's
/// symbolic dims, blobs, quantized and complex types).
fn dtype(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::Bool => DType::Bool,
        DatumType::U8 => DType::U8,
        DatumType::U16 => DType::U16,
        DatumType::U32 => DType::U32,
        DatumType::U64 => DType::U64,
        DatumType::I8 => DType::I8,
        DatumType::I16 => DType::I16,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        DatumType::F16 => DType::F16,
        DatumType::F32 => DType::F32,
        DatumType::F64 => DType::F64,
        DatumType::String => DType::String,
        // Shapes computed inside the graph come out as tract's dims; they are ONNX int64s.
        DatumType::TDim => DType::I64,
        _ => return None,
    })
}

/// tract's element type for one of inferkit's that [`dtype`] maps to.
fn datum_type(dtype: DType) -> Option<DatumType> {
    Some(match dtype {
        DType::Bool => DatumType::Bool,
        DType::U8 => DatumType::U8,
        DType::U16 => DatumType::U16,
        DType::U32 => DatumType::U32,
        DType::U64 => DatumType::U64,
        DType::I8 => DatumType::I8,
        DType::I16 => DatumType::I16,
        DType::I32 => DatumType::I32,
        DType::I64 => DatumType::I64,
        DType::F16 => DatumType::F16,
        DType::F32 => DatumType::F32,
        DType::F64 => DatumType::F64,
        DType::String => DatumType::String,
        _ => return None,
    })
}

/// A tract tensor with the view's contents (tract owns its tensors, so this is a copy).
fn to_tract(view: &TensorView<'_>) -> std::result::Result<TTensor, String> {
    let shape = view.shape();
    if view.dtype() == DType::String {
        let count = view.offsets().len().saturating_sub(1);
        let strings = (0..count)
            .map(|i| {
                let bytes = view.string_bytes(i).unwrap_or_default();
                std::str::from_utf8(bytes)
                    .map(str::to_string)
                    .map_err(|_| format!("string {i} is not UTF-8, which tract's strings must be"))
            })
            .collect::<std::result::Result<Vec<String>, String>>()?;
        return tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, strings)
            .map(TTensor::from)
            .map_err(|e| e.to_string());
    }
    let dt = datum_type(view.dtype())
        .ok_or_else(|| format!("element type {} on the tract backend", view.dtype()))?;
    // SAFETY: `dt` is a plain-data type (strings were handled above), and from_raw_dt checks the
    // length against the shape. Any bytes are a valid number; bools must be 0 or 1, which request
    // validation has checked (`Signature::validate`, every bool input) before a run gets here.
    unsafe { TTensor::from_raw_dt(dt, shape, view.as_bytes()) }.map_err(message)
}

/// An inferkit tensor with a tract output's contents.
fn from_tract(t: &TTensor) -> std::result::Result<Tensor, String> {
    let shape = t.shape().to_vec();
    match t.datum_type() {
        DatumType::String => {
            let strings = t.to_plain_array_view::<String>().map_err(message)?;
            let strings: Vec<&String> = strings.iter().collect();
            Tensor::from_strings(shape, &strings).map_err(|e| e.to_string())
        }
        DatumType::TDim => {
            let ints = t.cast_to::<i64>().map_err(message)?;
            Tensor::from_bytes(DType::I64, shape, ints.as_bytes()).map_err(|e| e.to_string())
        }
        dt => {
            let dtype = dtype(dt).ok_or_else(|| format!("tract output of type {dt:?}"))?;
            Tensor::from_bytes(dtype, shape, t.as_bytes()).map_err(|e| e.to_string())
        }
    }
}

/// A new run state for `plan`, a panic inside tract caught.
fn fresh_state(plan: &Arc<TypedSimplePlan>) -> std::result::Result<TypedSimpleState, String> {
    catch_unwind(AssertUnwindSafe(|| TypedSimpleState::new(plan)))
        .map_err(panic_message)?
        .map_err(message)
}

impl TractSession {
    fn new(plan: Arc<TypedSimplePlan>) -> std::result::Result<TractSession, String> {
        let state = fresh_state(&plan)?;
        Ok(TractSession { plan, state })
    }

    /// Runs the plan on inputs that [`Signature::validate`] accepted and returns the outputs at
    /// `selected` (all when `None`). `stop` is checked before each operator: a run stopped by the
    /// watchdog (deadline) or by a cancellation ends with an error there, as ONNX Runtime's does.
    pub(crate) fn run(
        &mut self,
        model: &str,
        signature: &Signature,
        stop: &RunStop,
        inputs: &[(&str, Input<'_>)],
        selected: Option<&[usize]>,
    ) -> Result<Outputs> {
        let fail = |message: String| Error::Inference {
            model: model.to_string(),
            message: format!("tract: {message}"),
        };
        let mut feed: TVec<TValue> = TVec::new();
        for spec in &signature.inputs {
            let input = inputs
                .iter()
                .find(|(n, _)| *n == &*spec.name)
                .map(|(_, i)| i)
                .ok_or_else(|| Error::MissingInput {
                    model: model.to_string(),
                    input: spec.name.to_string(),
                })?;
            let view = match input {
                Input::Tensor(view) => view.reborrow(),
                Input::Value(Value::Tensor(t)) => t.view(),
                Input::Value(other) => {
                    return Err(Error::Unsupported {
                        what: format!(
                            "model `{model}`, input `{}`: a {} on the tract backend, which takes tensors only",
                            spec.name,
                            other.kind().name()
                        ),
                        feature: None,
                    })
                }
            };
            let tensor =
                to_tract(&view).map_err(|m| fail(format!("input `{}`: {m}", spec.name)))?;
            feed.push(tensor.into_tvalue());
        }
        let state = &mut self.state;
        let ran = catch_unwind(AssertUnwindSafe(|| {
            state.run_plan_with_eval(
                feed,
                |ctx: &EvalContext<'_>,
                 op: Option<&mut (dyn OpState + 'static)>,
                 node: &TypedNode,
                 input: TVec<TValue>|
                 -> TractResult<TVec<TValue>> {
                    if stop.stopped() {
                        return Err(tract_onnx::prelude::TractError::msg(
                            "the run was stopped (deadline or cancellation)",
                        ));
                    }
                    tract_onnx::tract_core::plan::eval(ctx, op, node, input)
                },
            )
        }));
        let outputs = match ran {
            Ok(Ok(outputs)) => outputs,
            failed => {
                // A failed or panicked run may leave values of this run in the state: start the
                // next one from a fresh state.
                match fresh_state(&self.plan) {
                    Ok(fresh) => self.state = fresh,
                    Err(e) => {
                        tracing::warn!(model, error = %e, "inferkit: a tract session could not get a fresh state after a failed run; it keeps its old one")
                    }
                }
                return Err(fail(match failed {
                    Ok(Err(e)) => message(e),
                    Err(p) => panic_message(p),
                    Ok(Ok(_)) => unreachable!(),
                }));
            }
        };
        let all: Vec<usize>;
        let selected = match selected {
            Some(s) => s,
            None => {
                all = (0..signature.outputs.len()).collect();
                &all
            }
        };
        let mut entries = Vec::with_capacity(selected.len());
        for index in selected {
            let spec = &signature.outputs[*index];
            let value = outputs
                .get(*index)
                .ok_or_else(|| fail(format!("tract returned no output `{}`", spec.name)))?;
            let tensor =
                from_tract(value).map_err(|m| fail(format!("output `{}`: {m}", spec.name)))?;
            entries.push((spec.name.clone(), Value::Tensor(tensor)));
        }
        Ok(Outputs::from_values(entries))
    }
}

// tract's types are checked here, once, rather than trusted: a session moves between threads with
// its worker.
const _: () = {
    const fn send<T: Send>() {}
    send::<TractSession>();
};
