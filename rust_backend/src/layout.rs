//! The named layout of a result's memory.
//!
//! A call's outputs live in two buffers: one of 8-byte elements (the float64 rows and the
//! int64 `bars_since_event`) and one of bytes (the bool and int8 rows). Each output is a
//! named block at an offset in its buffer, computed once per call by [`Layout`], in the
//! order of the tuple the Python layer returns. That layer cuts the buffers into the rows
//! the kernels write ([`Cut`]) and makes one numpy view per block from the same layout,
//! and exports the names ([`Output::name`], in tuple order) so that the adapter reads the
//! tuple by name instead of by position.

use std::marker::PhantomData;

use crate::batch::BatchRows;
use crate::stage::{DetailRows, SingleRows};

/// Element type of an output, which decides its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F64,
    I64,
    Bool,
    I8,
}

impl Elem {
    /// In the buffer of 8-byte elements (else in the byte buffer).
    pub fn wide(self) -> bool {
        matches!(self, Elem::F64 | Elem::I64)
    }
}

/// Shape of an output array (C order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    D1(usize),
    D2(usize, usize),
    D3(usize, usize, usize),
}

impl Shape {
    pub fn elements(self) -> usize {
        match self {
            Shape::D1(a) => a,
            Shape::D2(a, b) => a * b,
            Shape::D3(a, b, c) => a * b * c,
        }
    }
}

/// Outputs of a result at most.
const MAX_OUTPUTS: usize = 13;
const _: () = assert!(SingleOutput::ALL.len() <= MAX_OUTPUTS && BatchOutput::ALL.len() <= MAX_OUTPUTS);

/// The outputs of one kind of result, in tuple order.
pub trait Output: Copy + PartialEq + 'static {
    /// Every output, in tuple order (at most [`MAX_OUTPUTS`]).
    const ALL: &'static [Self];
    /// Position in [`Output::ALL`].
    fn index(self) -> usize;
    /// The result field it fills (`core.types.ATCResult` or `BatchResult`).
    fn name(self) -> &'static str;
    fn elem(self) -> Elem;
}

/// The outputs of one series (`compute`, and R after them for the incremental detail):
/// (6, n) for the signals and family equities, (54, n) for the detail rows (None without
/// detail), (n,) for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleOutput {
    Average,
    /// Layer-1 signals.
    Signals,
    /// Layer-2 equities.
    FamilyEquities,
    SignalBase,
    Direction,
    ArrowLong,
    ArrowShort,
    Long,
    Short,
    Mas,
    States,
    Equities,
    /// R of §3; only in the incremental detail's tuple.
    RateOfChange,
}

impl Output for SingleOutput {
    const ALL: &'static [Self] = &[
        Self::Average,
        Self::Signals,
        Self::FamilyEquities,
        Self::SignalBase,
        Self::Direction,
        Self::ArrowLong,
        Self::ArrowShort,
        Self::Long,
        Self::Short,
        Self::Mas,
        Self::States,
        Self::Equities,
        Self::RateOfChange,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Self::Average => "average_signal",
            Self::Signals => "signals",
            Self::FamilyEquities => "family_equities",
            Self::SignalBase => "signal_base",
            Self::Direction => "direction",
            Self::ArrowLong => "arrow_long",
            Self::ArrowShort => "arrow_short",
            Self::Long => "long",
            Self::Short => "short",
            Self::Mas => "mas",
            Self::States => "states",
            Self::Equities => "equities",
            Self::RateOfChange => "rate_of_change",
        }
    }

    fn elem(self) -> Elem {
        match self {
            Self::ArrowLong | Self::ArrowShort | Self::Long | Self::Short => Elem::Bool,
            Self::States => Elem::I8,
            _ => Elem::F64,
        }
    }
}

impl SingleOutput {
    fn shape(self, n: usize, detail: bool) -> Option<Shape> {
        match self {
            Self::Signals | Self::FamilyEquities => Some(Shape::D2(6, n)),
            Self::Mas | Self::States | Self::Equities => detail.then_some(Shape::D2(54, n)),
            _ => Some(Shape::D1(n)),
        }
    }
}

/// The outputs of a batch (`compute_batch` and the incremental batch calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutput {
    /// (symbols, families, tail) each.
    Signals,
    FamilyEquities,
    /// (symbols, tail) each.
    Direction,
    Long,
    Short,
    /// (symbols,) each.
    LastEvent,
    BarsSinceEvent,
    /// (symbols, tail) with six families, else None.
    Average,
}

impl Output for BatchOutput {
    const ALL: &'static [Self] = &[
        Self::Signals,
        Self::FamilyEquities,
        Self::Direction,
        Self::Long,
        Self::Short,
        Self::LastEvent,
        Self::BarsSinceEvent,
        Self::Average,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Self::Signals => "signals",
            Self::FamilyEquities => "family_equities",
            Self::Direction => "direction",
            Self::Long => "long",
            Self::Short => "short",
            Self::LastEvent => "last_event",
            Self::BarsSinceEvent => "bars_since_event",
            Self::Average => "average_signal",
        }
    }

    fn elem(self) -> Elem {
        match self {
            Self::Long | Self::Short => Elem::Bool,
            Self::LastEvent => Elem::I8,
            Self::BarsSinceEvent => Elem::I64,
            _ => Elem::F64,
        }
    }
}

impl BatchOutput {
    fn shape(self, symbols: usize, families: usize, tail: usize) -> Option<Shape> {
        match self {
            Self::Signals | Self::FamilyEquities => Some(Shape::D3(symbols, families, tail)),
            Self::LastEvent | Self::BarsSinceEvent => Some(Shape::D1(symbols)),
            Self::Average => (families == 6).then_some(Shape::D2(symbols, tail)),
            _ => Some(Shape::D2(symbols, tail)),
        }
    }
}

/// One tuple item: an output and, unless the tuple holds None there, where it lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<O> {
    pub output: O,
    /// Offset in its buffer (elements) and shape.
    pub place: Option<(usize, Shape)>,
}

/// The blocks of one call's result, in tuple order, and the sizes of the two buffers
/// (no allocation: a result is made on every tick).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout<O> {
    /// The first `len` are the tuple's items.
    blocks: [Block<O>; MAX_OUTPUTS],
    len: usize,
    /// Elements of the 8-byte buffer.
    pub wide: usize,
    /// Elements of the byte buffer.
    pub bytes: usize,
}

impl<O: Output> Layout<O> {
    /// Blocks laid end to end in their buffers, in the order given.
    fn new(items: impl Iterator<Item = (O, Option<Shape>)>) -> Self {
        let (mut wide, mut bytes, mut len) = (0, 0, 0);
        let mut blocks = [Block { output: O::ALL[0], place: None }; MAX_OUTPUTS];
        for (slot, (output, shape)) in blocks.iter_mut().zip(items) {
            let place = shape.map(|s| {
                let end = if output.elem().wide() { &mut wide } else { &mut bytes };
                let at = *end;
                *end += s.elements();
                (at, s)
            });
            *slot = Block { output, place };
            len += 1;
        }
        Self { blocks, len, wide, bytes }
    }

    /// The tuple's items, in order.
    pub fn blocks(&self) -> std::slice::Iter<'_, Block<O>> {
        self.blocks[..self.len].iter()
    }

    /// The two buffers (of [`Layout::wide`] and [`Layout::bytes`] elements, the bytes all
    /// 0 or 1) cut into one slice per present block.
    pub fn cut<'a>(&self, wide: &'a mut [f64], bytes: &'a mut [u8]) -> Cut<'a, O> {
        assert!(wide.len() == self.wide && bytes.len() == self.bytes);
        let mut cut =
            Cut { wide: [const { None }; MAX_OUTPUTS], bytes: [const { None }; MAX_OUTPUTS], kind: PhantomData };
        let (mut w, mut b) = (wide, bytes);
        // Blocks follow each other in each buffer in tuple order (see `new`).
        for blk in self.blocks().filter(|b| b.place.is_some()) {
            let (i, len) = (blk.output.index(), blk.place.map_or(0, |(_, s)| s.elements()));
            if blk.output.elem().wide() {
                let (head, rest) = std::mem::take(&mut w).split_at_mut(len);
                cut.wide[i] = Some(head);
                w = rest;
            } else {
                let (head, rest) = std::mem::take(&mut b).split_at_mut(len);
                cut.bytes[i] = Some(head);
                b = rest;
            }
        }
        cut
    }
}

impl Layout<SingleOutput> {
    /// `compute`'s tuple for `n` bars (the 54-row blocks with `detail`), and R after it
    /// when `with_r`.
    pub fn single(n: usize, detail: bool, with_r: bool) -> Self {
        let outputs = SingleOutput::ALL.iter().filter(|&&o| with_r || o != SingleOutput::RateOfChange);
        Self::new(outputs.map(|&o| (o, o.shape(n, detail))))
    }
}

impl Layout<BatchOutput> {
    /// A batch's tuple for `symbols × families × tail`.
    pub fn batch(symbols: usize, families: usize, tail: usize) -> Self {
        Self::new(BatchOutput::ALL.iter().map(|&o| (o, o.shape(symbols, families, tail))))
    }
}

/// The slices of a cut layout, taken out by output (each once; an absent one is empty,
/// which the kernels' size checks refuse).
pub struct Cut<'a, O> {
    /// By [`Output::index`].
    wide: [Option<&'a mut [f64]>; MAX_OUTPUTS],
    bytes: [Option<&'a mut [u8]>; MAX_OUTPUTS],
    kind: PhantomData<O>,
}

impl<'a, O: Output> Cut<'a, O> {
    fn take<T>(from: &mut [Option<&'a mut [T]>; MAX_OUTPUTS], o: O) -> &'a mut [T] {
        from[o.index()].take().unwrap_or_default()
    }

    pub fn f64(&mut self, o: O) -> &'a mut [f64] {
        assert_eq!(o.elem(), Elem::F64);
        Self::take(&mut self.wide, o)
    }

    pub fn i64(&mut self, o: O) -> &'a mut [i64] {
        assert_eq!(o.elem(), Elem::I64);
        let v = Self::take(&mut self.wide, o);
        // SAFETY: i64 and f64 have the same size and alignment, and every bit pattern is
        // a valid i64.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut i64, v.len()) }
    }

    pub fn bools(&mut self, o: O) -> &'a mut [bool] {
        assert_eq!(o.elem(), Elem::Bool);
        let v = Self::take(&mut self.bytes, o);
        // All bytes ≤ 1 exactly when their OR is (a fold the compiler vectorises).
        assert!(v.iter().fold(0, |acc, &b| acc | b) <= 1);
        // SAFETY: same size and alignment, and every byte is 0 or 1 (checked), a valid bool.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut bool, v.len()) }
    }

    pub fn i8(&mut self, o: O) -> &'a mut [i8] {
        assert_eq!(o.elem(), Elem::I8);
        let v = Self::take(&mut self.bytes, o);
        // SAFETY: u8 and i8 have the same size, alignment and valid bit patterns.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut i8, v.len()) }
    }
}

impl<'a> Cut<'a, SingleOutput> {
    /// The rows the single-series kernels write (the detail rows when the layout has
    /// them).
    pub fn single_rows(&mut self) -> SingleRows<'a> {
        use SingleOutput::*;
        let (mas, states, equities) = (self.f64(Mas), self.i8(States), self.f64(Equities));
        SingleRows {
            average: self.f64(Average),
            signals: self.f64(Signals),
            family_equities: self.f64(FamilyEquities),
            signal_base: self.f64(SignalBase),
            direction: self.f64(Direction),
            flags: [self.bools(ArrowLong), self.bools(ArrowShort), self.bools(Long), self.bools(Short)],
            detail: (!mas.is_empty()).then_some(DetailRows { mas, states, equities }),
        }
    }
}

impl<'a> Cut<'a, BatchOutput> {
    /// The rows the batch kernels write (Average_Signal when the layout has it).
    pub fn batch_rows(&mut self) -> BatchRows<'a> {
        use BatchOutput::*;
        let average = self.f64(Average);
        BatchRows {
            signals: self.f64(Signals),
            family_equities: self.f64(FamilyEquities),
            direction: self.f64(Direction),
            long: self.bools(Long),
            short: self.bools(Short),
            last_event: self.i8(LastEvent),
            bars_since_event: self.i64(BarsSinceEvent),
            average: (!average.is_empty()).then_some(average),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<O: Output>(l: &Layout<O>, o: O) -> Option<(usize, Shape)> {
        l.blocks().find(|b| b.output == o).and_then(|b| b.place)
    }

    #[test]
    fn single_blocks_are_laid_end_to_end_in_tuple_order() {
        let n = 7;
        let l = Layout::single(n, true, true);
        let names: Vec<_> = l.blocks().map(|b| b.output.name()).collect();
        assert_eq!(names.len(), 13);
        assert_eq!((names[0], names[12]), ("average_signal", "rate_of_change"));
        assert_eq!((l.wide, l.bytes), (124 * n, 58 * n));
        assert_eq!(place(&l, SingleOutput::Signals), Some((n, Shape::D2(6, n))));
        assert_eq!(place(&l, SingleOutput::Short), Some((3 * n, Shape::D1(n))));
        assert_eq!(place(&l, SingleOutput::States), Some((4 * n, Shape::D2(54, n))));
        assert_eq!(place(&l, SingleOutput::RateOfChange), Some((123 * n, Shape::D1(n))));

        let plain = Layout::single(n, false, false);
        assert_eq!(plain.blocks().len(), 12);
        assert_eq!((plain.wide, plain.bytes), (15 * n, 4 * n));
        assert_eq!(place(&plain, SingleOutput::Mas), None);
    }

    #[test]
    fn batch_blocks_follow_the_families() {
        let (s, t) = (3, 2);
        let full = Layout::batch(s, 6, t);
        assert_eq!((full.wide, full.bytes), (2 * s * 6 * t + 2 * s * t + s, 2 * s * t + s));
        assert_eq!(place(&full, BatchOutput::BarsSinceEvent), Some((2 * s * 6 * t + s * t, Shape::D1(s))));
        let ema = Layout::batch(s, 1, t);
        assert_eq!(place(&ema, BatchOutput::Average), None);
        assert_eq!(ema.wide, 2 * s * t + s * t + s);
    }

    #[test]
    fn a_cut_hands_out_disjoint_rows_of_the_right_sizes() {
        let n = 5;
        let l = Layout::single(n, true, true);
        let (mut wide, mut bytes) = (vec![0.0; l.wide], vec![0u8; l.bytes]);
        let mut cut = l.cut(&mut wide, &mut bytes);
        let mut rows = cut.single_rows();
        let r = cut.f64(SingleOutput::RateOfChange);
        assert!(rows.fit(n) && r.len() == n);
        rows.average.fill(1.0);
        r.fill(2.0);
        rows.flags[3].fill(true);
        rows.detail.as_mut().unwrap().states.fill(-1);
        assert_eq!(&wide[..n], &[1.0; 5]);
        assert_eq!(&wide[123 * n..], &[2.0; 5]);
        assert_eq!(&bytes[3 * n..4 * n], &[1; 5]);
        assert_eq!(bytes[4 * n], 255);

        let l = Layout::single(n, false, false);
        let (mut wide, mut bytes) = (vec![0.0; l.wide], vec![0u8; l.bytes]);
        let rows = l.cut(&mut wide, &mut bytes).single_rows();
        assert!(rows.fit(n) && rows.detail.is_none());

        let l = Layout::batch(2, 1, 3);
        let (mut wide, mut bytes) = (vec![0.0; l.wide], vec![0u8; l.bytes]);
        let rows = l.cut(&mut wide, &mut bytes).batch_rows();
        assert!(rows.average.is_none() && rows.signals.len() == 6 && rows.bars_since_event.len() == 2);
    }
}
