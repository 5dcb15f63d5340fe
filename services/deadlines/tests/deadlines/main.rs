//! The deadlines service's tests: each timed rule through the real api, and
//! the real binary under concurrency and kill -9.

mod ops;
mod processes;
mod races;
mod rules;
mod startup;
mod support;
