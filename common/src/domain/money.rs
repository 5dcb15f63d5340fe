//! Credit arithmetic. Credits are integers; the fee is truncated toward zero.

use std::{
    fmt,
    ops::{Add, AddAssign, Neg, Sub, SubAssign},
};

/// An amount of credits: a balance, a budget, escrow, a payment or a ledger
/// row's change (negative for a debit). Stored as `bigint` and serialized as
/// a bare integer, so it reads and writes exactly as the `i64` it wraps.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct Credits(i64);

impl Credits {
    /// No credits.
    pub const ZERO: Self = Self(0);

    /// `n` credits.
    pub const fn new(n: i64) -> Self {
        Self(n)
    }

    /// The amount as a bare integer (for views and arithmetic with counts).
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for Credits {
    fn from(n: i64) -> Self {
        Self(n)
    }
}

impl From<Credits> for i64 {
    fn from(c: Credits) -> Self {
        c.0
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Add for Credits {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl Sub for Credits {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0 - rhs.0)
    }
}

impl AddAssign for Credits {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Credits {
    fn sub_assign(&mut self, rhs: Self) {
        self.0 -= rhs.0;
    }
}

impl Neg for Credits {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

/// The platform's cut of a payment: `floor(charged × percent / 100)`.
pub fn platform_fee(charged: Credits, percent: f64) -> Credits {
    if percent <= 0.0 || charged <= Credits::ZERO {
        return Credits::ZERO;
    }
    // Integer math on hundredths of a percent avoids float rounding surprises
    // (e.g. 10.0% of 50 must be exactly 5).
    let basis_points = (percent * 100.0).round() as i128;
    Credits(((charged.0 as i128 * basis_points) / 10_000) as i64)
}

/// How an approved task's escrow is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// Paid to the worker (charged minus fee).
    pub worker: Credits,
    /// Paid to the platform agent.
    pub fee: Credits,
    /// Returned to the poster (max minus charged).
    pub refund: Credits,
}

/// Splits `max_credits` of escrow when `charged` of it is paid out.
pub fn settle(max_credits: Credits, charged: Credits, fee_percent: f64) -> Settlement {
    let charged = charged.clamp(Credits::ZERO, max_credits);
    let fee = platform_fee(charged, fee_percent);
    Settlement {
        worker: charged - fee,
        fee,
        refund: max_credits - charged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_matches_the_documented_examples() {
        let fee = |charged, percent| platform_fee(Credits(charged), percent).get();
        assert_eq!(fee(50, 10.0), 5);
        assert_eq!(fee(9, 10.0), 0);
        assert_eq!(fee(15, 10.0), 1);
        assert_eq!(fee(12, 10.0), 1);
        assert_eq!(fee(100, 0.0), 0);
    }

    #[test]
    fn settlement_conserves_the_escrow() {
        for max in [1, 2, 15, 50, 100_000] {
            for charged in [0, 1, max / 2, max] {
                let (max, charged) = (Credits(max), Credits(charged));
                let s = settle(max, charged, 10.0);
                assert_eq!(s.worker + s.fee + s.refund, max);
            }
        }
    }
}
