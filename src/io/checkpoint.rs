//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! A checkpoint is a model file ([`super::safetensors`]) that also holds the optimizer's
//! arrays (tensors named `optimizer.…`, which model loading skips — so `backprop eval` reads
//! a checkpoint like any model) and, in its metadata, the run's [`Progress`] (step, batch
//! generator, history, losses; no wall-clock times, so that the same run writes the same
//! bytes), the optimizer's scalars, the dropout generators, and an
//! opaque description of the run that the caller uses to rebuild the data and settings.
//!
//! A checkpoint directory holds `step-NNNNNNNN.safetensors` files, each written atomically
//! (temporary file, fsync, rename); the two newest are kept. One run at a time writes
//! into a directory: it holds an exclusive lock (`flock`) on the directory's [`LOCK`] file
//! while it runs, which the kernel releases when the process ends, however it ends.

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::safetensors::{self, LoadedModel, ModelInfo, OPTIMIZER_PREFIX};
use super::write_atomic;
use crate::error::{Error, Fix, Result};
use crate::float::Float;
use crate::nets::Network;
use crate::optim::{Optimizer, OptimizerState};
use crate::rng::Rng;
use crate::train::{Checkpoint, Progress};

/// How many checkpoint files a directory keeps.
pub const KEEP: usize = 2;

/// The file in a checkpoint directory that the run writing there holds locked.
pub const LOCK: &str = ".lock";

/// Saves checkpoints into a directory; plug it into [`crate::train::Control::checkpoint`].
#[derive(Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
    info: ModelInfo,
    run: Value,
    /// The locked [`LOCK`] file, held open (hence locked) as long as this value lives.
    _lock: std::fs::File,
}

impl CheckpointDir {
    /// Checkpoints of a run described by `info` (the model) and `run` (whatever the caller
    /// needs to rebuild the run), into `dir`, which is created if needed. Fails, naming the
    /// directory, while another run writes there (another process holds its lock).
    pub fn new(dir: &Path, info: ModelInfo, run: Value) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if !dir.is_dir() {
            return Err(Error::format(dir, "not a directory"));
        }
        Ok(CheckpointDir {
            dir: dir.to_path_buf(),
            info,
            run,
            _lock: lock(dir)?,
        })
    }
}

/// Opens the [`LOCK`] file of `dir` and locks it exclusively, without waiting.
fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    // std's lock is flock(2) on Unix: held by the open file, released by the kernel
    // however the process ends.
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::needs(
                format!(
                    "{}: in use by another backprop run, whose checkpoints this run would \
                     replace",
                    dir.display()
                ),
                Fix::OtherCheckpointDir,
            ));
        }
    }
    Ok(file)
}

fn file_name(step: usize) -> String {
    format!("step-{step:08}.safetensors")
}

/// The step of a checkpoint file named `name` (`step-NNNNNNNN.safetensors`), if it is one.
fn step_of(name: &str) -> Option<usize> {
    name.strip_prefix("step-")
        .and_then(|s| s.strip_suffix(".safetensors"))
        .and_then(|s| s.parse().ok())
}

/// Whether `name` is the name of a checkpoint file, which a [`CheckpointDir`] writes and
/// deletes: no other output may have it there.
pub fn is_checkpoint_name(name: &str) -> bool {
    step_of(name).is_some()
}

/// The checkpoint files in `dir`, oldest first, by step.
pub fn list(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(step) = step_of(&name) {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

impl<F: Float> Checkpoint<F> for CheckpointDir {
    fn save(
        &mut self,
        net: &mut Network<F>,
        opt: &dyn Optimizer<F>,
        progress: &Progress,
    ) -> Result<()> {
        let state = opt.state();
        let tensors: Vec<(String, ArrayD<F>)> = state
            .arrays
            .iter()
            .map(|(name, a)| (format!("{OPTIMIZER_PREFIX}{name}"), a.clone()))
            .collect();
        let rngs: Vec<[u64; 4]> = net.rngs().iter().map(|r| r.state()).collect();
        let checkpoint = json!({
            "progress": without_times(progress),
            "optimizer": {"name": opt.name(), "scalars": state.scalars},
            "rngs": rngs,
            "run": self.run,
        });
        let bytes = safetensors::to_bytes_with(
            net,
            &self.info,
            &tensors,
            &[("checkpoint".to_string(), checkpoint.to_string())],
        )?;
        write_atomic(&self.dir.join(file_name(progress.iter)), &bytes)?;
        // Keep the newest few; a failed removal only leaves an extra file behind.
        let files = list(&self.dir)?;
        for (_, old) in files.iter().take(files.len().saturating_sub(KEEP)) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }
}

/// `progress` as a checkpoint records it: without its wall-clock times (`seconds`, also in
/// each evaluation), so that two identical runs write identical checkpoints.
fn without_times(progress: &Progress) -> Value {
    let mut v = serde_json::to_value(progress).expect("progress serialises");
    let mut strip = |o: &mut Value| {
        if let Some(map) = o.as_object_mut() {
            map.remove("seconds");
        }
    };
    strip(&mut v);
    if let Some(history) = v.get_mut("history").and_then(Value::as_array_mut) {
        history.iter_mut().for_each(&mut strip);
    }
    v
}

/// The progress recorded in a checkpoint, checked for consistency.
fn progress_from_json(v: &Value, path: &Path) -> Result<Progress> {
    let progress = Progress::deserialize(v)
        .map_err(|e| Error::format(path, format!("the checkpoint's progress is invalid: {e}")))?;
    if progress.losses.len() != progress.iter {
        return Err(Error::format(
            path,
            "the checkpoint's progress has a bad loss history (its length is not the step count)",
        ));
    }
    Ok(progress)
}

/// A checkpoint read back.
pub struct Restored<F: Float> {
    /// The network and its description, as in a model file.
    pub model: LoadedModel<F>,
    /// The optimizer's arrays and scalars.
    pub optimizer: OptimizerState<F>,
    /// Where the run stood.
    pub progress: Progress,
    /// The run's description, as given to [`CheckpointDir::new`].
    pub run: Value,
    /// The file it came from.
    pub path: PathBuf,
}

/// The newest checkpoint file in `dir`.
pub fn latest(dir: &Path) -> Result<PathBuf> {
    list(dir)?
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| Error::format(dir, "no checkpoint (step-*.safetensors) in this directory"))
}

/// Reads a checkpoint file and restores the dropout generators of its network.
pub fn load<F: Float>(path: &Path) -> Result<Restored<F>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut model = safetensors::from_bytes::<F>(&bytes, path)?;
    let (_, meta) = ::safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, format!("not a safetensors file: {e}")))?;
    let text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("checkpoint"))
        .ok_or_else(|| Error::format(path, "a model file, not a checkpoint (no training state)"))?;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::format(path, format!("the checkpoint's state is not JSON: {e}")))?;
    let progress = progress_from_json(&v["progress"], path)?;

    let rngs = v["rngs"]
        .as_array()
        .ok_or_else(|| Error::format(path, "the checkpoint has no generator states"))?;
    let mut net_rngs = model.net.rngs();
    if rngs.len() != net_rngs.len() {
        return Err(Error::format(
            path,
            format!(
                "{} generator states for {} dropout layers",
                rngs.len(),
                net_rngs.len()
            ),
        ));
    }
    for (slot, state) in net_rngs.iter_mut().zip(rngs) {
        let s: Option<Vec<u64>> = state
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect());
        let s: [u64; 4] = s
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::format(path, "a bad generator state"))?;
        **slot = Rng::from_state(s);
    }

    let st = ::safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, format!("not a safetensors file: {e}")))?;
    let mut arrays = Vec::new();
    for (name, view) in st.iter() {
        let Some(short) = name.strip_prefix(OPTIMIZER_PREFIX) else {
            continue;
        };
        let values: Vec<F> = match view.dtype() {
            ::safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| F::lit(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64))
                .collect(),
            ::safetensors::Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| F::lit(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
            other => {
                return Err(Error::format(
                    path,
                    format!("tensor {name} has dtype {other}"),
                ));
            }
        };
        let a = ArrayD::from_shape_vec(view.shape(), values)
            .map_err(|e| Error::format(path, format!("tensor {name}: {e}")))?;
        arrays.push((short.to_string(), a));
    }
    arrays.sort_by(|a, b| a.0.cmp(&b.0));
    let scalars = v["optimizer"]["scalars"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|pair| {
                    Some((pair.get(0)?.as_str()?.to_string(), pair.get(1)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Restored {
        model,
        optimizer: OptimizerState { arrays, scalars },
        progress,
        run: v["run"].clone(),
        path: path.to_path_buf(),
    })
}
