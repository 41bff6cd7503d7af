//! MMX's system behaviour, which the user-mode differential test cannot reach: #UD with
//! CR0.EM, #NM with CR0.TS (state untouched), #MF for a pending unmasked x87 exception, and
//! the MMX-to-x87 state transitions seen through FNSTENV.

mod common;

use common::*;
use emu_x86::{cr0, Bus, Cpu};
use iced_x86::code_asm::*;

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x50_0000;

fn run(cpu: &mut Cpu, bus: &mut TestBus, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Option<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    f(&mut a).unwrap();
    a.hlt().unwrap();
    let bytes = a.assemble(CODE).unwrap();
    bus.write(CODE, &bytes);
    cpu.invalidate_ram(CODE, bytes.len() as u64);
    cpu.rip = CODE;
    cpu.halted = false;
    run_to_halt(cpu, bus)
}

/// The FNSTENV image's status word (TOP) and tag word, after running `f`.
fn env_after(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> (u16, u16) {
    let (mut cpu, mut bus) = machine();
    let v = run(&mut cpu, &mut bus, |a| {
        a.fninit()?;
        a.fld1()?;
        f(a)?;
        a.mov(rbx, DATA)?;
        a.fnstenv(ptr(rbx))
    });
    assert_eq!(v, None);
    let mut img = [0u8; 28];
    bus.ram().read(DATA, &mut img).unwrap();
    (u16::from_le_bytes([img[4], img[5]]), u16::from_le_bytes([img[8], img[9]]))
}

#[test]
fn control_register_gating() {
    let (mut cpu, mut bus) = machine();
    cpu.cr0 |= cr0::EM;
    assert_eq!(run(&mut cpu, &mut bus, |a| a.paddb(mm0, mm1)), Some(6));
    assert_eq!(run(&mut cpu, &mut bus, |a| a.emms()), Some(6));

    let (mut cpu, mut bus) = machine();
    cpu.cr0 |= cr0::TS;
    assert_eq!(run(&mut cpu, &mut bus, |a| a.movq(mm0, rax)), Some(7));
    assert_eq!(run(&mut cpu, &mut bus, |a| a.emms()), Some(7));
    // The faulting MOVQ changed nothing: CLTS, then TOP and the tags are still FNINIT's.
    cpu.cr0 &= !cr0::TS;
    let v = run(&mut cpu, &mut bus, |a| {
        a.mov(rbx, DATA)?;
        a.fnstenv(ptr(rbx))
    });
    assert_eq!(v, None);
    assert_eq!(bus.ram().read_u64(DATA + 8).unwrap() as u16, 0xffff);
}

#[test]
fn pending_x87_exception_raises_mf() {
    let (mut cpu, mut bus) = machine();
    cpu.cr0 |= cr0::NE;
    let v = run(&mut cpu, &mut bus, |a| {
        a.mov(rbx, DATA)?;
        // Unmask invalid operation, then take the square root of -1.
        a.mov(word_ptr(rbx), 0x037eu32)?;
        a.fldcw(word_ptr(rbx))?;
        a.fld1()?;
        a.fchs()?;
        a.fsqrt()?;
        a.pxor(mm0, mm0)
    });
    assert_eq!(v, Some(16));
}

#[test]
fn mmx_transitions_top_and_tags() {
    // FLD1 leaves TOP 7 and one valid register; an MMX instruction makes TOP 0 and all eight
    // valid (tags from contents: the written register is special, the others zero but R7).
    let (fsw, ftw) = env_after(|a| a.movq(mm2, rax));
    assert_eq!(fsw >> 11 & 7, 0);
    assert_eq!(ftw, 0b01_01_01_01_01_10_01_01 & !(3 << 14));
    // EMMS: everything empty.
    let (_, ftw) = env_after(|a| {
        a.movq(mm2, rax)?;
        a.emms()
    });
    assert_eq!(ftw, 0xffff);
    // MM7 is R7's significand: the 1.0 FLD1 pushed.
    let (mut cpu, mut bus) = machine();
    let v = run(&mut cpu, &mut bus, |a| {
        a.fninit()?;
        a.fld1()?;
        a.movq(rax, mm7)?;
        a.emms()
    });
    assert_eq!(v, None);
    assert_eq!(cpu.gpr[0], 1 << 63);
}
