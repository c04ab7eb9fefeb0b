//! Python bindings of the incremental engine ([`crate::incremental`]): the
//! `IncrementalStates` class and the functions that build, advance and read it. Results
//! are the tuples of `compute_batch` and `compute` (see `_native.pyi`).

use std::sync::Arc;

use numpy::ndarray::Array1;
use numpy::ndarray::Dimension;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::{batch_result, data, f64_matrix, f64_vector, single_result, value_error, KernelArgs};
use crate::incremental::batch::{advance, detail, forming, init, Block};
use crate::incremental::{Engine, SymbolState};

/// Per-symbol ATC states of one parameter set (see `_native.pyi`).
#[pyclass(module = "rust_backend._native")]
pub struct IncrementalStates {
    engine: Arc<Engine>,
    states: Vec<SymbolState>,
    with_src: bool,
    /// Set when an internal error stopped appending bars midway: the states must be
    /// rebuilt.
    broken: bool,
    /// The configuration and kernel parameters the states were built from, kept for the
    /// adapter (opaque here).
    config: Py<PyAny>,
    params: Py<PyAny>,
}

#[pymethods]
impl IncrementalStates {
    fn __len__(&self) -> usize {
        self.states.len()
    }

    /// The largest symbol's state in bytes (heap parts included).
    fn nbytes_per_symbol(&self) -> usize {
        self.states.iter().map(SymbolState::nbytes).max().unwrap_or(0)
    }

    /// Bytes held by all states.
    fn nbytes(&self) -> usize {
        self.states.iter().map(SymbolState::nbytes).sum()
    }

    /// Closed bars each symbol's state holds, (symbols,) int64.
    fn bars<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        Array1::from_iter(self.states.iter().map(|s| s.bars() as i64)).into_pyarray(py)
    }

    #[getter]
    fn with_src(&self) -> bool {
        self.with_src
    }

    #[getter]
    fn config(&self, py: Python<'_>) -> Py<PyAny> {
        self.config.clone_ref(py)
    }

    #[getter]
    fn params(&self, py: Python<'_>) -> Py<PyAny> {
        self.params.clone_ref(py)
    }

    /// An independent copy (same parameters).
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        self.usable()?;
        Ok(Self {
            engine: Arc::clone(&self.engine),
            states: py.detach(|| self.states.clone()),
            with_src: self.with_src,
            broken: false,
            config: self.config.clone_ref(py),
            params: self.params.clone_ref(py),
        })
    }

    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        self.copy(py)
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.copy(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "IncrementalStates({} symbols{}, {} bytes per symbol at most)",
            self.states.len(),
            if self.with_src { ", separate source" } else { "" },
            self.nbytes_per_symbol()
        )
    }
}

impl IncrementalStates {
    fn usable(&self) -> PyResult<()> {
        if self.broken {
            return Err(PyRuntimeError::new_err(
                "these incremental states were left incomplete by an internal error; rebuild them with incremental_init",
            ));
        }
        Ok(())
    }

    /// `src` is given exactly when the states were built with one.
    fn check_src(&self, given: bool) -> PyResult<()> {
        match (self.with_src, given) {
            (true, false) => {
                Err(value_error("src", "these states were built with a separate src: pass src too".into()))
            }
            (false, true) => Err(value_error("src", "these states were built without src: pass none".into())),
            _ => Ok(()),
        }
    }
}

/// Marks states broken when dropped by a panic (states appended midway).
struct MarkOnPanic<'a>(&'a mut bool);

impl Drop for MarkOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0 = true;
        }
    }
}

/// The bars of `closes` (`(symbols, cols)`, or `(symbols,)` for one column) named `name`,
/// with the MA source `src`, which must have the same shape.
fn block<'a, D: Dimension>(
    closes: &'a PyReadonlyArray<'_, f64, D>,
    src: &'a Option<PyReadonlyArray<'_, f64, D>>,
    name: &'static str,
) -> PyResult<Block<'a>> {
    let vector = D::NDIM == Some(1);
    if let Some(s) = src {
        if s.shape() != closes.shape() {
            return Err(value_error(
                "src",
                if vector {
                    format!("src has {} values but {name} has {}", s.len(), closes.len())
                } else {
                    format!("src has shape {:?} but {name} has {:?}", s.shape(), closes.shape())
                },
            ));
        }
    }
    let cols = if vector { 1 } else { closes.shape()[1] };
    Ok(Block { closes: closes.as_slice()?, src: data(src)?, cols, name })
}

/// Build the states of a right-aligned `(symbols, bars)` batch; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (closes, src, params, tail, config))]
fn incremental_init<'py>(
    py: Python<'py>,
    closes: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
    params: &Bound<'py, PyAny>,
    tail: i64,
    config: Py<PyAny>,
) -> PyResult<(IncrementalStates, Bound<'py, PyTuple>)> {
    let args: KernelArgs = params.extract()?;
    if args.families != 6 {
        return Err(value_error("mode", "the incremental ATC computes the full ATC: use mode 'full'".into()));
    }
    let engine = Engine::new(&args.params).map_err(super::input_error)?;
    let closes = f64_matrix(closes, "closes")?;
    let src = src.map(|s| f64_matrix(s, "src")).transpose()?;
    let symbols = closes.shape()[0];
    let block = block(&closes, &src, "closes")?;
    let tail = usize::try_from(tail).map_err(|_| value_error("tail", format!("tail = {tail} must be ≥ 1")))?;
    let mut states = Vec::new();
    let result = batch_result(py, symbols, 6, tail, |rows| {
        states = init(&engine, &block, symbols, tail, rows)?;
        Ok(())
    })?;
    let st = IncrementalStates {
        engine: Arc::new(engine),
        states,
        with_src: src.is_some(),
        broken: false,
        config,
        params: params.clone().unbind(),
    };
    Ok((st, result))
}

/// Append a block of closed bars; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (states, new_bars, src))]
fn incremental_update<'py>(
    py: Python<'py>,
    mut states: PyRefMut<'py, IncrementalStates>,
    new_bars: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    states.usable()?;
    states.check_src(src.is_some())?;
    let closes = f64_matrix(new_bars, "new_bars")?;
    let src = src.map(|s| f64_matrix(s, "src")).transpose()?;
    let (symbols, cols) = (closes.shape()[0], closes.shape()[1]);
    if symbols != states.states.len() {
        return Err(value_error(
            "new_bars",
            format!("new_bars has {symbols} rows but the states hold {} symbols", states.states.len()),
        ));
    }
    if cols == 0 {
        return Err(value_error("new_bars", "new_bars has no columns: at least one bar is needed".into()));
    }
    let block = block(&closes, &src, "new_bars")?;
    let st = &mut *states;
    batch_result(py, symbols, 6, cols, |rows| {
        // Invalid input is refused before any state changes; only a panic midway leaves
        // the states incomplete.
        let _mark = MarkOnPanic(&mut st.broken);
        advance(&st.engine, &mut st.states, &block, cols, rows)
    })
}

/// Outputs of the forming bars, states unchanged; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (states, forming_bars, src))]
fn incremental_forming<'py>(
    py: Python<'py>,
    states: PyRef<'py, IncrementalStates>,
    forming_bars: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    states.usable()?;
    states.check_src(src.is_some())?;
    let closes = f64_vector(forming_bars, "forming")?;
    let src = src.map(|s| f64_vector(s, "src")).transpose()?;
    let symbols = closes.len();
    if symbols != states.states.len() {
        return Err(value_error(
            "forming",
            format!("forming has {symbols} values but the states hold {} symbols", states.states.len()),
        ));
    }
    let block = block(&closes, &src, "forming")?;
    let st = &*states;
    batch_result(py, symbols, 6, 1, |rows| forming(&st.engine, &st.states, &block, rows))
}

/// One symbol's bars with every output, detail included; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (states, symbol, closes, src, commit))]
fn incremental_detail<'py>(
    py: Python<'py>,
    mut states: PyRefMut<'py, IncrementalStates>,
    symbol: i64,
    closes: &Bound<'py, PyAny>,
    src: Option<&Bound<'py, PyAny>>,
    commit: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    states.usable()?;
    states.check_src(src.is_some())?;
    let count = states.states.len();
    let i = usize::try_from(symbol)
        .ok()
        .filter(|&i| i < count)
        .ok_or_else(|| value_error("symbol", format!("symbol = {symbol} is out of range: allowed 0 … {count} − 1")))?;
    let closes = f64_vector(closes, "closes")?;
    let src = src.map(|s| f64_vector(s, "src")).transpose()?;
    let (closes, src) = (closes.as_slice()?, data(&src)?);
    if closes.is_empty() {
        return Err(value_error("closes", "closes has no bars: at least one is needed".into()));
    }
    let st = &mut *states;
    single_result(py, closes.len(), true, true, |rows, r| {
        // Only appending can leave a state incomplete (forming bars run on a copy).
        let _mark = commit.then(|| MarkOnPanic(&mut st.broken));
        detail(&st.engine, &mut st.states[i], closes, src, commit, rows, r)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<IncrementalStates>()?;
    m.add_function(wrap_pyfunction!(incremental_init, m)?)?;
    m.add_function(wrap_pyfunction!(incremental_update, m)?)?;
    m.add_function(wrap_pyfunction!(incremental_forming, m)?)?;
    m.add_function(wrap_pyfunction!(incremental_detail, m)?)?;
    Ok(())
}
