pub struct IllegalInstruction;
pub fn execute(_i: u32, _x: &mut [u64; 32], _f: &mut [u64; 32], _fcsr: &mut u32) -> Result<(), IllegalInstruction> { Err(IllegalInstruction) }
