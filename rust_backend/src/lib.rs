//! ATC kernels for ATC Desktop.
//!
//! Pure Rust modules hold the math ([`ma`], [`family`], [`layer2`], [`engine`]); this
//! file is the thin PyO3 layer of the `rust_backend._native` extension module. It borrows
//! contiguous float64 numpy arrays without copying, releases the GIL for the whole
//! computation, and turns invalid input into `ValueError(message, field)` / `TypeError`
//! and an unexpected panic into `RuntimeError`, never an interpreter crash.

pub mod engine;
pub mod family;
pub mod simd;
pub mod layer2;
pub mod ma;
pub mod params;

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::engine::{BatchOut, SingleOut};
use crate::params::{HmaKind, InputError, Params};

fn input_error(e: InputError) -> PyErr {
    PyValueError::new_err((e.message, e.field))
}

fn value_error(field: &'static str, message: String) -> PyErr {
    PyValueError::new_err((message, field))
}

/// Borrow a 1-D float64 C-contiguous array (no copy), or say what is wrong with it.
fn f64_vector<'py>(obj: &Bound<'py, PyAny>, field: &'static str) -> PyResult<PyReadonlyArray1<'py, f64>> {
    let arr = obj.cast::<PyArray1<f64>>().map_err(|_| describe_mismatch(obj, field, "float64", 1))?;
    let ro = arr.try_readonly().map_err(|e| value_error(field, format!("{field} cannot be read: {e}")))?;
    if !ro.is_c_contiguous() {
        return Err(value_error(field, format!("{field} must be C-contiguous")));
    }
    Ok(ro)
}

fn describe_mismatch(obj: &Bound<'_, PyAny>, field: &'static str, dtype: &str, ndim: usize) -> PyErr {
    let got = match (obj.getattr("dtype"), obj.getattr("shape")) {
        (Ok(d), Ok(s)) => format!("an array of dtype {d} and shape {s}"),
        _ => match obj.get_type().name() {
            Ok(n) => format!("a {n}"),
            Err(_) => "another object".to_string(),
        },
    };
    PyTypeError::new_err(format!("{field} must be a {ndim}-D {dtype} numpy array, got {got}"))
}

/// Run `f` without the GIL; a panic becomes a `RuntimeError` instead of unwinding into
/// Python.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, InputError> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(input_error(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(PyRuntimeError::new_err(format!("internal error in the Rust ATC kernels: {what}")))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn params(
    lengths: &Bound<'_, PyAny>,
    weights: &Bound<'_, PyAny>,
    lam: f64,
    delta: f64,
    cutout: i64,
    hma_kind: &str,
    cut_threshold: f64,
    long_threshold: f64,
    short_threshold: f64,
    strategy: bool,
    colbase: i64,
    alertbase: i64,
) -> PyResult<Params> {
    let arr = lengths.cast::<PyArray2<i64>>().map_err(|_| describe_mismatch(lengths, "lengths", "int64", 2))?;
    let ro = arr.readonly();
    let view = ro.as_array();
    if view.shape() != [6, 9] {
        return Err(value_error("lengths", format!("lengths must have shape (6, 9), got {:?}", view.shape())));
    }
    let mut lens = [[0usize; 9]; 6];
    for f in 0..6 {
        for m in 0..9 {
            let n = view[[f, m]];
            if n < 1 {
                return Err(value_error(
                    "lengths",
                    format!(
                        "lengths: member {m} of family {} has length {n}; every moving-average length must be ≥ 1",
                        params::FAMILIES[f]
                    ),
                ));
            }
            lens[f][m] = n as usize;
        }
    }
    let w = f64_vector(weights, "weights")?;
    let w = w.as_slice()?;
    if w.len() != 6 {
        return Err(value_error("weights", format!("weights must hold 6 values, got {}", w.len())));
    }
    let nonneg = |name: &'static str, v: i64| {
        usize::try_from(v).map_err(|_| value_error(name, format!("{name} = {v} must be ≥ 0")))
    };
    let hma_kind = match hma_kind {
        "sma" => HmaKind::Sma,
        "hull" => HmaKind::Hull,
        other => return Err(value_error("hma_kind", format!("hma_kind = {other:?}: choose 'sma' or 'hull'"))),
    };
    let p = Params {
        lengths: lens,
        weights: [w[0], w[1], w[2], w[3], w[4], w[5]],
        lam,
        delta,
        cutout: nonneg("cutout", cutout)?,
        hma_kind,
        cut_threshold,
        long_threshold,
        short_threshold,
        strategy,
        colbase: nonneg("colbase", colbase)?,
        alertbase: nonneg("alertbase", alertbase)?,
    };
    p.validate().map_err(input_error)?;
    Ok(p)
}

/// Full ATC of one series; see `_native.pyi` for the arguments and the returned tuple.
#[pyfunction]
#[pyo3(signature = (close, src, lengths, weights, lam, delta, cutout, hma_kind, cut_threshold,
                    long_threshold, short_threshold, strategy, colbase, alertbase, detail))]
#[allow(clippy::too_many_arguments)]
fn compute<'py>(
    py: Python<'py>,
    close: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
    lengths: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyAny>,
    lam: f64,
    delta: f64,
    cutout: i64,
    hma_kind: &str,
    cut_threshold: f64,
    long_threshold: f64,
    short_threshold: f64,
    strategy: bool,
    colbase: i64,
    alertbase: i64,
    detail: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let p = params(
        lengths, weights, lam, delta, cutout, hma_kind, cut_threshold, long_threshold, short_threshold, strategy,
        colbase, alertbase,
    )?;
    let close = f64_vector(close, "close")?;
    let src = src.map(|s| f64_vector(s, "src")).transpose()?;
    let close_s = close.as_slice()?;
    let src_s = match &src {
        Some(s) => Some(s.as_slice()?),
        None => None,
    };
    let out: SingleOut = detached(py, || engine::compute_single(close_s, src_s, &p, detail))?;
    single_tuple(py, out)
}

fn rows<T: numpy::Element>(py: Python<'_>, v: Vec<T>, n_rows: usize, n: usize) -> PyResult<Bound<'_, PyAny>> {
    let a = Array2::from_shape_vec((n_rows, n), v).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py).into_any())
}

fn single_tuple(py: Python<'_>, out: SingleOut) -> PyResult<Bound<'_, PyTuple>> {
    let n = out.bars;
    let vec1 = |v: Vec<f64>| Array1::from_vec(v).into_pyarray(py).into_any();
    let bool1 = |v: Vec<bool>| Array1::from_vec(v).into_pyarray(py).into_any();
    let none = || py.None().into_bound(py);
    let (mas, states, equities) = match out.detail {
        Some(d) => (rows(py, d.mas, 54, n)?, rows(py, d.states, 54, n)?, rows(py, d.equities, 54, n)?),
        None => (none(), none(), none()),
    };
    PyTuple::new(
        py,
        [
            vec1(out.average),
            rows(py, out.signals, 6, n)?,
            rows(py, out.family_equities, 6, n)?,
            vec1(out.signal_base),
            vec1(out.direction),
            bool1(out.arrow_long),
            bool1(out.arrow_short),
            bool1(out.long),
            bool1(out.short),
            mas,
            states,
            equities,
        ],
    )
}

/// Batch ATC of a right-aligned `(symbols, bars)` array; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (closes, starts, lengths, weights, lam, delta, cutout, hma_kind, cut_threshold,
                    long_threshold, short_threshold, strategy, colbase, alertbase, tail, families))]
#[allow(clippy::too_many_arguments)]
fn compute_batch<'py>(
    py: Python<'py>,
    closes: &Bound<'py, PyAny>,
    starts: &Bound<'py, PyAny>,
    lengths: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyAny>,
    lam: f64,
    delta: f64,
    cutout: i64,
    hma_kind: &str,
    cut_threshold: f64,
    long_threshold: f64,
    short_threshold: f64,
    strategy: bool,
    colbase: i64,
    alertbase: i64,
    tail: i64,
    families: i64,
) -> PyResult<Bound<'py, PyTuple>> {
    let p = params(
        lengths, weights, lam, delta, cutout, hma_kind, cut_threshold, long_threshold, short_threshold, strategy,
        colbase, alertbase,
    )?;
    let arr = closes.cast::<PyArray2<f64>>().map_err(|_| describe_mismatch(closes, "closes", "float64", 2))?;
    let closes = arr.try_readonly().map_err(|e| value_error("closes", format!("closes cannot be read: {e}")))?;
    if !closes.is_c_contiguous() {
        return Err(value_error("closes", "closes must be C-contiguous".to_string()));
    }
    let (symbols, bars) = (closes.shape()[0], closes.shape()[1]);
    let starts_arr =
        starts.cast::<PyArray1<i64>>().map_err(|_| describe_mismatch(starts, "starts", "int64", 1))?.readonly();
    let starts_v: Vec<usize> = starts_arr
        .as_array()
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| value_error("starts", format!("starts holds {s}; must be ≥ 0"))))
        .collect::<PyResult<_>>()?;
    let tail = usize::try_from(tail).map_err(|_| value_error("tail", format!("tail = {tail} must be ≥ 1")))?;
    let families = usize::try_from(families).unwrap_or(0);
    let data = closes.as_slice()?;
    let out: BatchOut =
        detached(py, || engine::compute_batch(data, symbols, bars, &starts_v, &p, tail, families))?;
    batch_tuple(py, out)
}

fn batch_tuple(py: Python<'_>, out: BatchOut) -> PyResult<Bound<'_, PyTuple>> {
    let (s, f, tail) = (out.symbols, out.families, out.tail);
    let cube = |v: Vec<f64>| -> PyResult<Bound<'_, PyAny>> {
        let a = Array3::from_shape_vec((s, f, tail), v).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py).into_any())
    };
    let average = match out.average {
        Some(v) => rows(py, v, s, tail)?,
        None => py.None().into_bound(py),
    };
    PyTuple::new(
        py,
        [
            cube(out.signals)?,
            cube(out.family_equities)?,
            rows(py, out.direction, s, tail)?,
            rows(py, out.long, s, tail)?,
            rows(py, out.short, s, tail)?,
            Array1::from_vec(out.last_event).into_pyarray(py).into_any(),
            Array1::from_vec(out.bars_since_event).into_pyarray(py).into_any(),
            average,
        ],
    )
}

/// Size of the thread pool the batch kernels run on.
#[pyfunction]
fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// Instruction-set level the kernels dispatch to on this CPU.
#[pyfunction]
fn simd_level() -> &'static str {
    engine::default_level().name()
}

#[pymodule]
#[pyo3(name = "_native")]
fn native_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(compute, m)?)?;
    m.add_function(wrap_pyfunction!(compute_batch, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    Ok(())
}
