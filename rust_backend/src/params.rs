//! Validated parameters of one ATC computation (spec §2), in the units the kernels use.

use std::fmt;

/// Families in the spec's order; index `f` everywhere in the crate.
pub const FAMILIES: [&str; 6] = ["EMA", "HMA", "WMA", "DEMA", "LSMA", "KAMA"];

/// An invalid input or parameter, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub field: &'static str,
    pub message: String,
}

impl InputError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

/// How the "HMA" family is computed (spec §4.3, option of §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmaKind {
    /// `ta.sma`, what TradingView's script computes.
    Sma,
    /// A real Hull moving average; no longer matches TradingView.
    Hull,
}

/// Everything the kernels need, already converted (λ = La/1000, δ = De/100).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Member lengths, family-major, member order of spec §4.1.
    pub lengths: [[usize; 9]; 6],
    /// Layer-2 starting equities per family.
    pub weights: [f64; 6],
    pub lam: f64,
    pub delta: f64,
    pub cutout: usize,
    pub hma_kind: HmaKind,
    pub cut_threshold: f64,
    pub long_threshold: f64,
    pub short_threshold: f64,
    pub strategy: bool,
    /// 0 = Average_Signal, 1 + f = family f's Layer-1 signal.
    pub colbase: usize,
    pub alertbase: usize,
}

impl Default for Params {
    /// The spec's defaults: length 28 with Medium offsets, unit weights.
    fn default() -> Self {
        let member = [28, 29, 30, 32, 34, 27, 26, 24, 22];
        Self {
            lengths: [member; 6],
            weights: [1.0; 6],
            lam: 0.02 / 1000.0,
            delta: 0.03 / 100.0,
            cutout: 0,
            hma_kind: HmaKind::Sma,
            cut_threshold: 0.49,
            long_threshold: 0.1,
            short_threshold: -0.1,
            strategy: false,
            colbase: 0,
            alertbase: 0,
        }
    }
}

impl Params {
    /// Check what the kernels rely on; the Python config validates ranges for users, this
    /// guards the kernels against any caller.
    pub fn validate(&self) -> Result<(), InputError> {
        for (f, row) in self.lengths.iter().enumerate() {
            for (m, &n) in row.iter().enumerate() {
                if n < 1 {
                    return Err(InputError::new(
                        "lengths",
                        format!(
                            "lengths: member {m} of family {} has length {n}; every moving-average length must be ≥ 1",
                            FAMILIES[f]
                        ),
                    ));
                }
            }
        }
        let finite = [
            ("lam", self.lam),
            ("delta", self.delta),
            ("cut_threshold", self.cut_threshold),
            ("long_threshold", self.long_threshold),
            ("short_threshold", self.short_threshold),
        ];
        for (name, v) in finite {
            if !v.is_finite() {
                return Err(InputError::new(name, format!("{name} = {v} must be a finite number")));
            }
        }
        for (f, w) in self.weights.iter().enumerate() {
            if !w.is_finite() || *w < 0.0 {
                return Err(InputError::new(
                    "weights",
                    format!("weights: {} weight = {w} must be finite and ≥ 0", FAMILIES[f]),
                ));
            }
        }
        if self.colbase > 6 {
            return Err(InputError::new("colbase", format!("colbase index {} is not in 0 … 6", self.colbase)));
        }
        if self.alertbase > 6 {
            return Err(InputError::new("alertbase", format!("alertbase index {} is not in 0 … 6", self.alertbase)));
        }
        Ok(())
    }
}
