//! TorchScript models that name their tensors: a model's manifest says
//! which file holds the module and what its `forward` takes and returns
//! ([`Signature`]); a [`Script`] checks every call against that before and
//! after libtorch runs it, so a wrong shape is an error naming the tensor,
//! not a libtorch exception from deep inside the graph.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use kino_models::{Dim, Dtype, Installed, Signature, TensorSpec};

use crate::device::ModelDevice;

/// A tensor crossing into or out of a model: its shape and its elements
/// (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Its dimensions.
    pub shape: Vec<usize>,
    /// Its elements.
    pub data: Data,
}

/// A tensor's elements.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

impl Tensor {
    /// A float tensor; `data.len()` must be the product of `shape`.
    pub fn f32(shape: &[usize], data: Vec<f32>) -> Self {
        Self {
            shape: shape.to_vec(),
            data: Data::F32(data),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self.data {
            Data::F32(_) => Dtype::F32,
            Data::I64(_) => Dtype::I64,
        }
    }

    fn len(&self) -> usize {
        match &self.data {
            Data::F32(d) => d.len(),
            Data::I64(d) => d.len(),
        }
    }

    /// The float elements; an error naming `what` for another type.
    pub fn into_f32(self, what: &str) -> Result<Vec<f32>> {
        match self.data {
            Data::F32(d) => Ok(d),
            Data::I64(_) => bail!("{what} is i64, expected f32"),
        }
    }
}

/// Checks `tensors` against `specs` (inputs or outputs, `side` says which),
/// binding named dimensions in `sizes` so that a name is one size across
/// the whole call.
pub fn check(
    side: &str,
    specs: &[TensorSpec],
    tensors: &[Tensor],
    sizes: &mut HashMap<String, usize>,
) -> Result<()> {
    if specs.len() != tensors.len() {
        bail!(
            "{} {side}s given, the signature has {} ({})",
            tensors.len(),
            specs.len(),
            names(specs)
        );
    }
    for (spec, tensor) in specs.iter().zip(tensors) {
        let name = &spec.name;
        if tensor.dtype() != spec.dtype {
            bail!(
                "{side} `{name}` is {:?}, the signature says {:?}",
                tensor.dtype(),
                spec.dtype
            );
        }
        let shown = || format!("[{}]", join(&tensor.shape));
        let wanted = || format!("[{}]", join(&spec.shape));
        if tensor.shape.len() != spec.shape.len() {
            bail!(
                "{side} `{name}` has shape {}, the signature says {}",
                shown(),
                wanted()
            );
        }
        if tensor.shape.iter().product::<usize>() != tensor.len() {
            bail!(
                "{side} `{name}` has {} elements for shape {}",
                tensor.len(),
                shown()
            );
        }
        for (dim, &size) in spec.shape.iter().zip(&tensor.shape) {
            match dim {
                Dim::Fixed(want) if *want as usize != size => {
                    bail!(
                        "{side} `{name}` has shape {}, the signature says {}",
                        shown(),
                        wanted()
                    )
                }
                Dim::Named(n) => {
                    let bound = *sizes.entry(n.clone()).or_insert(size);
                    if bound != size {
                        bail!(
                            "{side} `{name}` has shape {}: `{n}` is {bound} elsewhere in this call",
                            shown()
                        );
                    }
                }
                Dim::Fixed(_) => {}
            }
        }
    }
    Ok(())
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A loaded TorchScript model and its signature.
pub struct Script {
    /// ``model `name@version` (network)``, for errors.
    id: String,
    model: String,
    signature: Signature,
    device: ModelDevice,
    #[cfg(feature = "torch")]
    module: tch::CModule,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("id", &self.id)
            .field("signature", &self.signature)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Loads `installed`'s TorchScript network `network` on the CPU, as its
    /// manifest's `[signatures.<network>]` names it; without the `torch`
    /// feature, an error saying how to get a host that can.
    pub fn load(installed: &Installed, network: &str) -> Result<Self> {
        Self::load_on(installed, network, ModelDevice::Cpu)
    }

    /// [`Script::load`] onto `device` (`device::resolve`'s): its weights
    /// live there, and each call's tensors go there and come back.
    pub fn load_on(installed: &Installed, network: &str, device: ModelDevice) -> Result<Self> {
        let model = installed.id();
        let id = format!("model `{model}` ({network})");
        let signature = installed
            .manifest
            .signatures
            .get(network)
            .cloned()
            .with_context(|| {
                format!(
                    "model `{}` has no [signatures.{network}] in its manifest",
                    installed.id()
                )
            })?;
        let path = installed.file(&signature.file)?;
        #[cfg(feature = "torch")]
        {
            let mut module = tch::CModule::load_on_device(&path, device.into())
                .with_context(|| format!("{id}: loading {} on {device}", path.display()))?;
            module.set_eval();
            Ok(Self {
                id,
                model,
                signature,
                device,
                module,
            })
        }
        #[cfg(not(feature = "torch"))]
        {
            let _ = (path, id, device);
            bail!("model `{model}` is TorchScript: {}", crate::NOT_BUILT)
        }
    }

    /// The model's `name@version`.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Where it runs.
    pub fn device(&self) -> ModelDevice {
        self.device
    }

    /// What it takes and returns.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Runs `forward` on `inputs` (checked against the signature), without
    /// gradients; its outputs, checked likewise.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let mut sizes = HashMap::new();
        check("input", &self.signature.inputs, &inputs, &mut sizes)
            .with_context(|| self.id.clone())?;
        let outputs = self.forward(inputs)?;
        check("output", &self.signature.outputs, &outputs, &mut sizes)
            .with_context(|| format!("{} returned something else", self.id))?;
        Ok(outputs)
    }

    #[cfg(feature = "torch")]
    fn forward(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        use tch::IValue;
        let shape = |s: &[usize]| s.iter().map(|&d| d as i64).collect::<Vec<i64>>();
        let args: Vec<IValue> = inputs
            .iter()
            .map(|t| {
                let tensor = match &t.data {
                    Data::F32(d) => tch::Tensor::from_slice(d),
                    Data::I64(d) => tch::Tensor::from_slice(d),
                };
                IValue::Tensor(
                    tensor
                        .reshape(shape(&t.shape))
                        .to_device(self.device.into()),
                )
            })
            .collect();
        let result = tch::no_grad(|| self.module.forward_is(&args))
            .with_context(|| format!("{}: forward", self.id))?;
        let values = match result {
            IValue::Tuple(values) | IValue::GenericList(values) => values,
            single => vec![single],
        };
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                IValue::Tensor(t) => from_torch(&t),
                other => bail!("{}: output {i} is not a tensor ({other:?})", self.id),
            })
            .collect()
    }

    #[cfg(not(feature = "torch"))]
    fn forward(&self, _inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        bail!("{}: {}", self.id, crate::NOT_BUILT)
    }
}

#[cfg(feature = "torch")]
fn from_torch(t: &tch::Tensor) -> Result<Tensor> {
    let shape = t
        .size()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()?;
    let flat = t.to_device(tch::Device::Cpu).contiguous().view(-1);
    let data = match t.kind() {
        tch::Kind::Float => Data::F32(Vec::<f32>::try_from(&flat)?),
        tch::Kind::Int64 => Data::I64(Vec::<i64>::try_from(&flat)?),
        other => bail!("an output of kind {other:?}: only f32 and i64 are taken"),
    };
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[Dim]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dtype: Dtype::F32,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn shapes_are_checked_and_named_dimensions_bound_across_a_call() {
        let frames = || Dim::Named("frames".into());
        let specs = [
            spec("mel", &[Dim::Fixed(1), Dim::Fixed(2), frames()]),
            spec("pitch", &[Dim::Fixed(1), frames()]),
        ];
        let mel = |n: usize| Tensor::f32(&[1, 2, n], vec![0.0; 2 * n]);
        let pitch = |n: usize| Tensor::f32(&[1, n], vec![0.0; n]);
        let mut sizes = HashMap::new();
        check("input", &specs, &[mel(3), pitch(3)], &mut sizes).expect("fits");
        assert_eq!(sizes["frames"], 3);

        let err = |tensors: &[Tensor]| {
            check("input", &specs, tensors, &mut HashMap::new())
                .expect_err("refused")
                .to_string()
        };
        assert!(err(&[mel(3), pitch(4)]).contains("`frames` is 3 elsewhere"));
        assert!(err(&[mel(3)]).contains("1 inputs given, the signature has 2 (`mel`, `pitch`)"));
        let wide = Tensor::f32(&[1, 3, 2], vec![0.0; 6]);
        assert!(
            err(&[wide, pitch(2)])
                .contains("input `mel` has shape [1, 3, 2], the signature says [1, 2, frames]")
        );
        let short = Tensor::f32(&[1, 2, 2], vec![0.0; 3]);
        assert!(err(&[short, pitch(2)]).contains("3 elements for shape [1, 2, 2]"));
        let ints = Tensor {
            shape: vec![1, 2],
            data: Data::I64(vec![0, 1]),
        };
        assert!(err(&[mel(2), ints]).contains("`pitch` is I64, the signature says F32"));
    }
}
