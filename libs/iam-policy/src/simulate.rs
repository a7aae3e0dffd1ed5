//! AWS SimulateCustomPolicy: request and response shapes and the one code path behind them.
