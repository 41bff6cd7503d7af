#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2w_fuzz::virtqueue(data));
