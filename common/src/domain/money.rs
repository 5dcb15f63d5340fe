//! Credit arithmetic. Credits are integers; the fee is truncated toward zero.

/// The platform's cut of a payment: `floor(charged × percent / 100)`.
pub fn platform_fee(charged: i64, percent: f64) -> i64 {
    if percent <= 0.0 || charged <= 0 {
        return 0;
    }
    // Integer math on hundredths of a percent avoids float rounding surprises
    // (e.g. 10.0% of 50 must be exactly 5).
    let basis_points = (percent * 100.0).round() as i128;
    ((charged as i128 * basis_points) / 10_000) as i64
}

/// How an approved task's escrow is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// Paid to the worker (charged minus fee).
    pub worker: i64,
    /// Paid to the platform agent.
    pub fee: i64,
    /// Returned to the poster (max minus charged).
    pub refund: i64,
}

/// Splits `max_credits` of escrow when `charged` of it is paid out.
pub fn settle(max_credits: i64, charged: i64, fee_percent: f64) -> Settlement {
    let charged = charged.clamp(0, max_credits);
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
        assert_eq!(platform_fee(50, 10.0), 5);
        assert_eq!(platform_fee(9, 10.0), 0);
        assert_eq!(platform_fee(15, 10.0), 1);
        assert_eq!(platform_fee(12, 10.0), 1);
        assert_eq!(platform_fee(100, 0.0), 0);
    }

    #[test]
    fn settlement_conserves_the_escrow() {
        for max in [1, 2, 15, 50, 100_000] {
            for charged in [0, 1, max / 2, max] {
                let s = settle(max, charged, 10.0);
                assert_eq!(s.worker + s.fee + s.refund, max);
            }
        }
    }
}
