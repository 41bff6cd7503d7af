#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2w_fuzz::x86_cpu(data));
