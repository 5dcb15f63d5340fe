//! Any bytes as a request body under any content type: parsing, the field
//! readers of every route and the markdown rendering must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    pinchwork_api::fuzzing::request_body(input);
});
