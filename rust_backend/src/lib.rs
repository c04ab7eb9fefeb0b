//! ATC kernels for ATC Desktop.
//!
//! Pure Rust modules hold the math ([`ma`], [`family`], [`layer2`], [`single`],
//! [`batch`]); this
//! file is the thin PyO3 layer of the `rust_backend._native` extension module. It borrows
//! contiguous float64 numpy arrays without copying, releases the GIL for the whole
//! computation, and turns invalid input into `ValueError(message, field)` / `TypeError`
//! and an unexpected panic into `RuntimeError`, never an interpreter crash. Results are
//! tuples of views into pooled memory placed by [`layout`], whose names the module
//! exports (`SINGLE_OUTPUTS`, `BATCH_OUTPUTS`).

pub mod across;
pub mod batch;
pub mod engine;
pub mod exact;
pub mod family;
pub mod incremental;
pub mod layer2;
pub mod layout;
pub mod ma;
pub mod mathsum;
pub mod params;
mod pipeline;
pub mod pool;
mod py_incremental;
pub mod simd;
pub mod single;
mod stage;
pub mod window;

use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::ndarray::{ArrayView, Dimension, Ix1, Ix2};
use numpy::{
    Element, PyArray, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::batch::BatchRows;
use crate::engine::default_level;
use crate::layout::{BatchOutput, Cut, Elem, Layout, Output, Shape, SingleOutput};
use crate::params::{HmaKind, InputError, Params};
use crate::pool::{BYTE_POOL, F64_POOL};
use crate::single::SingleRows;

fn input_error(e: InputError) -> PyErr {
    PyValueError::new_err((e.message, e.field))
}

fn value_error(field: &'static str, message: String) -> PyErr {
    PyValueError::new_err((message, field))
}

/// Borrow a `D`-dimensional array of `T` (`dtype` in messages) without copying, or say
/// what is wrong with it.
fn borrow_array<'py, T: Element, D: Dimension>(
    obj: &Bound<'py, PyAny>,
    field: &'static str,
    dtype: &str,
) -> PyResult<PyReadonlyArray<'py, T, D>> {
    let arr = obj.cast::<PyArray<T, D>>().map_err(|_| describe_mismatch(obj, field, dtype, D::NDIM.unwrap_or(0)))?;
    arr.try_readonly().map_err(|e| value_error(field, format!("{field} cannot be read: {e}")))
}

/// Borrow a `D`-dimensional float64 C-contiguous array (no copy), or say what is wrong
/// with it.
fn f64_array<'py, D: Dimension>(
    obj: &Bound<'py, PyAny>,
    field: &'static str,
) -> PyResult<PyReadonlyArray<'py, f64, D>> {
    let ro = borrow_array::<f64, D>(obj, field, "float64")?;
    if !ro.is_c_contiguous() {
        return Err(value_error(field, format!("{field} must be C-contiguous")));
    }
    Ok(ro)
}

fn f64_vector<'py>(obj: &Bound<'py, PyAny>, field: &'static str) -> PyResult<PyReadonlyArray1<'py, f64>> {
    f64_array(obj, field)
}

fn f64_matrix<'py>(obj: &Bound<'py, PyAny>, field: &'static str) -> PyResult<PyReadonlyArray2<'py, f64>> {
    f64_array(obj, field)
}

/// The data of an optional borrowed array (C-contiguous, as [`f64_array`] checks).
fn data<'a, D: Dimension>(arr: &'a Option<PyReadonlyArray<'_, f64, D>>) -> PyResult<Option<&'a [f64]>> {
    Ok(match arr {
        Some(a) => Some(a.as_slice()?),
        None => None,
    })
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

/// The kernel constants of one call, read from the attributes of a
/// `core.kernel_params.KernelParams` (any object with those attributes will do).
struct KernelArgs {
    params: Params,
    /// Families a batch computes: 6 (full) or 1 (EMA only).
    families: usize,
}

impl<'a, 'py> FromPyObject<'a, 'py> for KernelArgs {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let attr = |name: &'static str| {
            obj.getattr(name).map_err(|_| {
                PyTypeError::new_err(format!(
                    "params must be a core.kernel_params.KernelParams: it has no attribute {name:?}"
                ))
            })
        };
        fn scalar<'py, T: for<'b> FromPyObject<'b, 'py>>(v: Bound<'py, PyAny>, name: &'static str) -> PyResult<T> {
            let got = v.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".to_string());
            v.extract::<T>().map_err(|_| value_error(name, format!("{name} = {got} has the wrong type")))
        }
        let lengths = attr("lengths")?;
        let ro = borrow_array::<i64, Ix2>(&lengths, "lengths", "int64")?;
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
        let weights = attr("weights")?;
        let w = f64_vector(&weights, "weights")?;
        let w = w.as_slice()?;
        if w.len() != 6 {
            return Err(value_error("weights", format!("weights must hold 6 values, got {}", w.len())));
        }
        let nonneg = |name: &'static str| -> PyResult<usize> {
            let v: i64 = scalar(attr(name)?, name)?;
            usize::try_from(v).map_err(|_| value_error(name, format!("{name} = {v} must be ≥ 0")))
        };
        let hma_kind: String = scalar(attr("hma_kind")?, "hma_kind")?;
        let hma_kind = match hma_kind.as_str() {
            "sma" => HmaKind::Sma,
            "hull" => HmaKind::Hull,
            other => return Err(value_error("hma_kind", format!("hma_kind = {other:?}: choose 'sma' or 'hull'"))),
        };
        let p = Params {
            lengths: lens,
            weights: [w[0], w[1], w[2], w[3], w[4], w[5]],
            lam: scalar(attr("lam")?, "lam")?,
            delta: scalar(attr("delta")?, "delta")?,
            cutout: nonneg("cutout")?,
            hma_kind,
            cut_threshold: scalar(attr("cut_threshold")?, "cut_threshold")?,
            long_threshold: scalar(attr("long_threshold")?, "long_threshold")?,
            short_threshold: scalar(attr("short_threshold")?, "short_threshold")?,
            strategy: scalar(attr("strategy")?, "strategy")?,
            colbase: nonneg("colbase")?,
            alertbase: nonneg("alertbase")?,
        };
        p.validate().map_err(input_error)?;
        let families = nonneg("families")?;
        if families != 6 && families != 1 {
            return Err(value_error("families", format!("families = {families}: must be 6 (full) or 1 (ema_only)")));
        }
        Ok(Self { params: p, families })
    }
}

/// Full ATC of one series; see `_native.pyi` for the arguments and the returned tuple.
#[pyfunction]
#[pyo3(signature = (close, src, params, detail))]
fn compute<'py>(
    py: Python<'py>,
    close: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
    params: KernelArgs,
    detail: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let p = params.params;
    let close = f64_vector(close, "close")?;
    let src = src.map(|s| f64_vector(s, "src")).transpose()?;
    let (close_s, src_s) = (close.as_slice()?, data(&src)?);
    single_result(py, close_s.len(), detail, false, |rows, _| {
        single::compute_single_into(default_level(), close_s, src_s, &p, rows)
    })
}

/// The arrays of one series' result (`compute`'s tuple, and R after it when
/// `with_r`): allocated from the pools, filled by `fill` without the GIL (every element
/// is written), returned as views that keep the memory alive.
fn single_result<'py>(
    py: Python<'py>,
    n: usize,
    detail: bool,
    with_r: bool,
    fill: impl FnOnce(SingleRows<'_>, &mut [f64]) -> Result<(), InputError> + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let layout = Layout::single(n, detail, with_r);
    let mut mem = OutputMemory::take(&layout);
    {
        let mut cut = mem.cut(&layout);
        let rows = cut.single_rows();
        let r = cut.f64(SingleOutput::RateOfChange);
        detached(py, || fill(rows, r))?;
    }
    mem.into_tuple(py, &layout)
}

/// Memory behind the arrays of one call's result, taken from the pools and given back
/// when Python drops the last of those arrays.
#[pyclass(frozen)]
struct OutputMemory {
    /// The 8-byte and the byte buffer of a [`Layout`].
    wide: Vec<f64>,
    bytes: Vec<u8>,
}

impl OutputMemory {
    fn take<O: Output>(layout: &Layout<O>) -> Self {
        let mut bytes = BYTE_POOL.take(layout.bytes);
        // Zeroed so that the byte rows are valid `bool` and `i8` values from the start.
        bytes.fill(0);
        Self { wide: F64_POOL.take(layout.wide), bytes }
    }

    fn cut<'a, O: Output>(&'a mut self, layout: &Layout<O>) -> Cut<'a, O> {
        layout.cut(&mut self.wide, &mut self.bytes)
    }

    /// The result tuple: one view per block of `layout` (None where it has none), each
    /// keeping this memory alive.
    fn into_tuple<'py, O: Output>(self, py: Python<'py>, layout: &Layout<O>) -> PyResult<Bound<'py, PyTuple>> {
        let owner = Bound::new(py, self)?;
        let (w, b) = (owner.get().wide.as_ptr(), owner.get().bytes.as_ptr());
        let owner = owner.into_any();
        let items = layout.blocks().map(|blk| match blk.place {
            None => py.None().into_bound(py),
            // SAFETY: the layout places every block inside its buffer, and the buffers
            // live (unmoved) as long as the owner, which every view keeps alive.
            Some((at, shape)) => unsafe {
                match blk.output.elem() {
                    Elem::F64 => view(w.add(at), shape, &owner),
                    Elem::I64 => view(w.add(at) as *const i64, shape, &owner),
                    Elem::Bool => view(b.add(at) as *const bool, shape, &owner),
                    Elem::I8 => view(b.add(at) as *const i8, shape, &owner),
                }
            },
        });
        PyTuple::new(py, items)
    }
}

impl Drop for OutputMemory {
    fn drop(&mut self) {
        F64_POOL.give(std::mem::take(&mut self.wide));
        BYTE_POOL.give(std::mem::take(&mut self.bytes));
    }
}

/// A numpy array over `ptr` with `shape`, kept alive by `owner`.
///
/// # Safety
/// `ptr` must point to initialised memory of the whole shape inside a buffer `owner`
/// keeps alive and never reallocates.
unsafe fn view<'py, T: Element>(ptr: *const T, shape: Shape, owner: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    unsafe fn borrow<'py, T: Element, D: Dimension>(
        v: ArrayView<'_, T, D>,
        owner: &Bound<'py, PyAny>,
    ) -> Bound<'py, PyAny> {
        unsafe { PyArray::borrow_from_array(&v, owner.clone()).into_any() }
    }
    unsafe {
        match shape {
            Shape::D1(a) => borrow(ArrayView::from_shape_ptr(a, ptr), owner),
            Shape::D2(a, b) => borrow(ArrayView::from_shape_ptr((a, b), ptr), owner),
            Shape::D3(a, b, c) => borrow(ArrayView::from_shape_ptr((a, b, c), ptr), owner),
        }
    }
}

/// Batch ATC of a right-aligned `(symbols, bars)` array; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (closes, starts, params, tail))]
fn compute_batch<'py>(
    py: Python<'py>,
    closes: &Bound<'py, PyAny>,
    starts: &Bound<'py, PyAny>,
    params: KernelArgs,
    tail: i64,
) -> PyResult<Bound<'py, PyTuple>> {
    let (p, families) = (params.params, params.families);
    let closes = f64_matrix(closes, "closes")?;
    let (symbols, bars) = (closes.shape()[0], closes.shape()[1]);
    let starts_arr = borrow_array::<i64, Ix1>(starts, "starts", "int64")?;
    let starts_v: Vec<usize> = starts_arr
        .as_array()
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| value_error("starts", format!("starts holds {s}; must be ≥ 0"))))
        .collect::<PyResult<_>>()?;
    let tail = usize::try_from(tail).map_err(|_| value_error("tail", format!("tail = {tail} must be ≥ 1")))?;
    let data = closes.as_slice()?;
    batch_result(py, symbols, families, tail, |rows| {
        batch::compute_batch_into(default_level(), data, symbols, bars, &starts_v, &p, tail, families, rows)
    })
}

/// The arrays of a batch result (`compute_batch`'s tuple) of `symbols × families ×
/// tail`: allocated from the pools, filled by `fill` without the GIL, returned as views
/// that keep the memory alive.
fn batch_result<'py>(
    py: Python<'py>,
    symbols: usize,
    families: usize,
    tail: usize,
    fill: impl FnOnce(BatchRows<'_>) -> Result<(), InputError> + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let layout = Layout::batch(symbols, families, tail);
    let mut mem = OutputMemory::take(&layout);
    {
        let rows = mem.cut(&layout).batch_rows();
        detached(py, || fill(rows))?;
    }
    mem.into_tuple(py, &layout)
}

/// Whether every value of a (symbols, bars) batch lies within `lo … hi`; see
/// `_native.pyi`.
#[pyfunction]
fn prices_within(py: Python<'_>, closes: &Bound<'_, PyAny>, lo: f64, hi: f64) -> PyResult<bool> {
    let closes = f64_matrix(closes, "closes")?;
    let data = closes.as_slice()?;
    Ok(py.detach(|| engine::all_within(data, lo, hi)))
}

/// The names of the result fields a tuple of `O` fills, in tuple order.
fn output_names<'py, O: Output>(py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, O::ALL.iter().map(|o| o.name()))
}

/// Panics inside the kernels' error boundary: lets the tests prove that a panic becomes a
/// `RuntimeError` rather than taking the interpreter down.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    detached(py, || -> Result<(), InputError> { panic!("deliberate panic for the tests") })
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
    m.add("SINGLE_OUTPUTS", output_names::<SingleOutput>(m.py())?)?;
    m.add("BATCH_OUTPUTS", output_names::<BatchOutput>(m.py())?)?;
    m.add_function(wrap_pyfunction!(compute, m)?)?;
    m.add_function(wrap_pyfunction!(compute_batch, m)?)?;
    m.add_function(wrap_pyfunction!(prices_within, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    py_incremental::register(m)?;
    Ok(())
}
