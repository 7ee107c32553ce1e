//! Shared workloads for the criterion benches and the `report` binary.
