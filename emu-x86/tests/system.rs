//! System-level tests: paging faults, exceptions, privilege changes, interrupts, self-modifying
//! code, on a small machine with page tables built by the test.

mod common;

use common::*;
use emu_x86::{Bus, Cpu, Exit};
use iced_x86::code_asm::*;

const CODE: u64 = 0x40_0000;

fn load(cpu: &mut Cpu, bus: &mut TestBus, at: u64, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) {
    let mut a = CodeAssembler::new(64).unwrap();
    f(&mut a).unwrap();
    let bytes = a.assemble(at).unwrap();
    bus.write(at, &bytes);
    cpu.invalidate_ram(at, bytes.len() as u64);
    cpu.rip = at;
}

fn stack_u64(bus: &mut TestBus, cpu: &Cpu, k: u64) -> u64 {
    bus.ram().read_u64(cpu.gpr[4] + 8 * k).unwrap()
}

#[test]
fn loop_sums_and_halts() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        let mut top = a.create_label();
        a.xor(eax, eax)?;
        a.mov(ecx, 100)?;
        a.set_label(&mut top)?;
        a.add(rax, rcx)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!(cpu.gpr[0], 5050);
    assert_eq!(cpu.icount, 2 + 300 + 1);
}

/// A reset CPU starts like a new one, and runs the code now in RAM rather than blocks decoded
/// before the reset (the code changed behind its back, with nothing invalidated).
#[test]
fn reset_gives_a_new_cpu_without_old_blocks() {
    let (mut cpu, mut bus) = machine();
    let code = |v: u32| {
        let mut a = CodeAssembler::new(64).unwrap();
        a.mov(eax, v).unwrap();
        a.hlt().unwrap();
        a.assemble(CODE).unwrap()
    };
    bus.write(CODE, &code(1));
    cpu.rip = CODE;
    cpu.gpr[3] = 7;
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!(cpu.gpr[0], 1);
    bus.write(CODE, &code(2));
    let cpu = cpu.reset();
    let new = Cpu::new(RAM as u64);
    assert_eq!((cpu.gpr, cpu.rip, cpu.rflags(), cpu.icount), (new.gpr, new.rip, new.rflags(), new.icount));
    assert_eq!((cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer, cpu.halted), (new.cr0, new.cr3, new.cr4, new.efer, new.halted));
    let mut cpu = long_mode(cpu);
    cpu.rip = CODE;
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!(cpu.gpr[0], 2, "the new code ran, not the block decoded before the reset");
}

#[test]
fn budget_is_exact() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.inc(rax)?;
        a.jmp(top)
    });
    assert_eq!(cpu.run(&mut bus, 1001), Exit::Budget);
    assert_eq!(cpu.icount, 1001);
    assert_eq!(cpu.gpr[0], 501);
}

#[test]
fn page_fault_not_present_sets_cr2_and_error_code() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x90_0010u64)?;
        a.mov(rax, qword_ptr(rbx))?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    assert_eq!(cpu.cr2, 0x90_0010);
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 0); // not present, read, supervisor
    assert_eq!(stack_u64(&mut bus, &cpu, 1), CODE + 10); // faulting RIP
    assert_eq!(stack_u64(&mut bus, &cpu, 2), 0x10);
}

#[test]
fn write_protect_and_dirty_bits() {
    let (mut cpu, mut bus) = machine();
    bus.map(0x50_0000, 0x50_0000, 0); // read-only
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x50_0000u64)?;
        a.mov(rax, qword_ptr(rbx))?;
        a.mov(qword_ptr(rbx), rax)?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 3); // present, write
    let pte = bus.pte(0x50_0000);
    assert_ne!(pte & 0x20, 0, "accessed");
    assert_eq!(pte & 0x40, 0, "not dirty");
    // Without CR0.WP the supervisor may write; D gets set.
    let (mut cpu, mut bus) = machine();
    bus.map(0x50_0000, 0x50_0000, 0);
    cpu.cr0 &= !emu_x86::cr0::WP;
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x50_0000u64)?;
        a.mov(qword_ptr(rbx), rbx)?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_ne!(bus.pte(0x50_0000) & 0x40, 0, "dirty");
}

#[test]
fn nx_fetch_faults_with_instruction_bit() {
    let (mut cpu, mut bus) = machine();
    bus.map(0x50_0000, 0x50_0000, W | NX);
    bus.write(0x50_0000, &[0xf4]);
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rax, 0x50_0000u64)?;
        a.jmp(rax)
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 0x11);
    assert_eq!(cpu.cr2, 0x50_0000);
}

#[test]
fn ud_de_gp() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| a.ud2());
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(6));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), CODE);

    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.xor(ecx, ecx)?;
        a.div(rcx)
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(0));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), CODE + 2);

    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x8000_0000_0000u64)?;
        a.mov(rax, qword_ptr(rbx))
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(13));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 0);
}

#[test]
fn double_and_triple_fault() {
    let (mut cpu, mut bus) = machine();
    // #PF gate not present: delivering #PF raises #NP, which makes a double fault.
    let g = bus.ram().read_u64(IDT + 16 * 14).unwrap();
    bus.ram().write_u64(IDT + 16 * 14, g & !(1 << 47)).unwrap();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x90_0000u64)?;
        a.mov(rax, qword_ptr(rbx))
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(8));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 0);

    let (mut cpu, mut bus) = machine();
    cpu.idtr.limit = 0;
    load(&mut cpu, &mut bus, CODE, |a| a.ud2());
    assert_eq!(cpu.run(&mut bus, 100), Exit::TripleFault);
}

/// Enters user mode at `entry` with IRETQ and returns after the user code or a handler halts.
fn user_machine(user: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> (Cpu, TestBus) {
    let (mut cpu, mut bus) = machine();
    let ucode = 0x60_0000u64;
    let ustack = 0x61_0000u64;
    bus.map(ucode, ucode, U);
    bus.map(ustack - 0x1000, ustack - 0x1000, U | W);
    load(&mut cpu, &mut bus, ucode, user);
    load(&mut cpu, &mut bus, CODE, |a| {
        for v in [USER_DS as u64, ustack, 0x202, USER_CS as u64, ucode] {
            a.mov(rax, v)?;
            a.push(rax)?;
        }
        a.iretq()
    });
    (cpu, bus)
}

#[test]
fn user_mode_fault_switches_to_rsp0() {
    let (mut cpu, mut bus) = user_machine(|a| {
        a.mov(rbx, CODE)?; // supervisor page
        a.mov(rax, qword_ptr(rbx))
    });
    // A user-mode HLT would #GP, so run until the handler's HLT.
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 5); // present, user, read
    assert_eq!(cpu.gpr[4], KSTACK_TOP - 48);
    assert_eq!(stack_u64(&mut bus, &cpu, 2), USER_CS as u64);
    assert_eq!(stack_u64(&mut bus, &cpu, 5), USER_DS as u64);
    assert_eq!(cpu.cpl(), 0);
}

#[test]
fn syscall_and_sysret() {
    let (mut cpu, mut bus) = user_machine(|a| {
        a.mov(eax, 42)?;
        a.syscall()?;
        // Back in user mode after SYSRET.
        a.mov(ebx, 7)?;
        a.int(0x80)
    });
    cpu.msr.star = ((0x23u64) << 48) | ((KERNEL_CS as u64) << 32);
    cpu.msr.sfmask = 0x200;
    let handler = 0x41_0000u64;
    cpu.msr.lstar = handler;
    let ret = cpu.rip;
    load(&mut cpu, &mut bus, handler, |a| {
        a.add(eax, 1)?;
        a.sysretq()
    });
    cpu.rip = ret;
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(0x80));
    assert_eq!(cpu.gpr[0], 43);
    assert_eq!(cpu.gpr[3], 7);
    assert_eq!(cpu.gpr[11] & 0x200, 0x200, "R11 holds user RFLAGS");
    // Frame pushed by INT 0x80 from user mode: SS:RSP, RFLAGS, CS:RIP.
    assert_eq!(stack_u64(&mut bus, &cpu, 1), USER_CS as u64);
}

#[test]
fn int_gate_dpl_blocks_user() {
    let (mut cpu, mut bus) = user_machine(|a| a.int(0x81));
    let g = bus.ram().read_u64(IDT + 16 * 0x81).unwrap();
    bus.ram().write_u64(IDT + 16 * 0x81, g & !(3 << 45)).unwrap();
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(13));
    assert_eq!(stack_u64(&mut bus, &cpu, 0), 0x81 * 8 + 2);
}

#[test]
fn self_modifying_code_is_seen() {
    let (mut cpu, mut bus) = machine();
    // Patch the imm32 of a later `mov eax, imm32` in the same block, then run it.
    load(&mut cpu, &mut bus, CODE, |a| {
        let mut target = a.create_label();
        a.lea(rbx, ptr(target))?;
        a.mov(dword_ptr(rbx + 1), 0x1234_5678)?;
        a.set_label(&mut target)?;
        a.mov(eax, 1)?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!(cpu.gpr[0], 0x1234_5678);
    // Run the patched code again: the cache must not bring back the old decode.
    let (mut cpu, mut bus) = machine();
    let f = 0x42_0000u64;
    load(&mut cpu, &mut bus, f, |a| {
        a.mov(eax, 1)?;
        a.ret()
    });
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, f)?;
        a.call(rbx)?;
        a.mov(ecx, eax)?;
        a.mov(dword_ptr(rbx + 1), 2)?;
        a.call(rbx)?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!((cpu.gpr[1], cpu.gpr[0]), (1, 2));
}

#[test]
fn dma_invalidation_api() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(eax, 1)?;
        a.hlt()
    });
    run_to_halt(&mut cpu, &mut bus);
    assert_eq!(cpu.gpr[0], 1);
    // A "device" rewrites the immediate behind the CPU's back.
    bus.write(CODE + 1, &3u32.to_le_bytes());
    cpu.invalidate_ram(CODE + 1, 4);
    cpu.rip = CODE;
    cpu.halted = false;
    run_to_halt(&mut cpu, &mut bus);
    assert_eq!(cpu.gpr[0], 3);
}

#[test]
fn rep_movsb_fault_leaves_progress() {
    let (mut cpu, mut bus) = machine();
    // Copy 0x20 bytes ending past the mapped 8 MiB.
    let dst = (8u64 << 20) - 0x10;
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rsi, 0x30_0000u64)?;
        a.mov(rdi, dst)?;
        a.mov(ecx, 0x20)?;
        a.rep().movsb()?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    assert_eq!(cpu.gpr[1], 0x10);
    assert_eq!(cpu.gpr[7], 8 << 20);
    assert_eq!(cpu.gpr[6], 0x30_0010);
    assert_eq!(cpu.cr2, 8 << 20);
    // The saved RIP is the REP MOVSB itself, so it resumes once the page is mapped.
    assert_eq!(stack_u64(&mut bus, &cpu, 1), CODE + 10 + 10 + 5);
}

#[test]
fn external_interrupt_respects_if() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top)?;
        a.inc(rax)?;
        a.cmp(rax, 1000)?;
        a.jne(top)?;
        a.sti()?;
        a.nop()?;
        a.hlt()
    });
    bus.irq = Some(0x40);
    // IF is clear: the loop finishes, STI's shadow covers the NOP... and the HLT takes it.
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(0x40));
    assert_eq!(cpu.gpr[0], 1000);
    assert_eq!(bus.irq, None);
}

#[test]
fn halt_then_wake_by_interrupt() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.sti()?;
        a.hlt()?;
        a.mov(eax, 5)?;
        a.hlt()
    });
    assert_eq!(cpu.run(&mut bus, 100), Exit::Halt);
    assert_eq!(cpu.run(&mut bus, 100), Exit::Halt, "stays halted without an interrupt");
    bus.irq = Some(0x30);
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(0x30));
    // The interrupt frame's RIP is after the first HLT.
    assert_eq!(stack_u64(&mut bus, &cpu, 0), CODE + 2);
}

#[test]
fn invlpg_and_cr3_flush() {
    let (mut cpu, mut bus) = machine();
    bus.map(0x50_0000, 0x30_0000, W);
    bus.ram().write_u64(0x30_0000, 11).unwrap();
    bus.ram().write_u64(0x31_0000, 22).unwrap();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x50_0000u64)?;
        a.mov(rax, qword_ptr(rbx))?;
        a.hlt()?;
        a.invlpg(byte_ptr(rbx))?;
        a.mov(rax, qword_ptr(rbx))?;
        a.hlt()
    });
    run_to_halt(&mut cpu, &mut bus);
    assert_eq!(cpu.gpr[0], 11);
    bus.map(0x50_0000, 0x31_0000, W);
    cpu.halted = false;
    run_to_halt(&mut cpu, &mut bus);
    assert_eq!(cpu.gpr[0], 22);
}

#[test]
fn cpuid_rdtsc_ports_msrs() {
    let (mut cpu, mut bus) = machine();
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(eax, 0x8000_0001u32)?;
        a.cpuid()?;
        a.mov(r8d, edx)?;
        a.rdtsc()?;
        a.mov(r9d, eax)?;
        a.mov(dx, 0x3f8)?;
        a.mov(al, 0x41)?;
        a.out(dx, al)?;
        a.in_(al, 0x71)?;
        a.mov(r10, rax)?;
        a.mov(ecx, 0xc000_0100u32)?;
        a.mov(eax, 0x1234)?;
        a.xor(edx, edx)?;
        a.wrmsr()?;
        a.mov(rbx, qword_ptr(0u64).fs())?;
        a.hlt()
    });
    bus.ram().write_u64(0x1234, 0xfeed).unwrap();
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_ne!(cpu.gpr[8] & (1 << 29), 0, "long mode advertised");
    assert_eq!(cpu.gpr[9], 1000);
    assert_eq!(bus.out, vec![(0x3f8, 1, 0x41)]);
    assert_eq!(cpu.gpr[10] & 0xff, 0x71 ^ 0x5a);
    assert_eq!(cpu.seg[emu_x86::FS].base, 0x1234);
    assert_eq!(cpu.gpr[3], 0xfeed);
}

#[test]
fn fxsave_roundtrip() {
    let (mut cpu, mut bus) = machine();
    cpu.xmm[3] = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    cpu.mxcsr = 0x1fa0;
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rbx, 0x30_0000u64)?;
        a.fxsave64(ptr(rbx))?;
        a.pxor(xmm3, xmm3)?;
        a.fxrstor64(ptr(rbx))?;
        a.hlt()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), None);
    assert_eq!(cpu.xmm[3], 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
    assert_eq!(bus.ram().read_u32(0x30_0000 + 24), Some(0x1fa0));
    assert_eq!(bus.ram().read_u16(0x30_0000), Some(0x37f));
}

#[test]
fn a_handler_that_faults_at_once_still_uses_up_the_budget() {
    // The #UD handler is itself UD2: every delivery raises the next #UD. `run` must still
    // return when the budget is spent (the x86 fuzzer found this looping forever).
    let (mut cpu, mut bus) = machine();
    bus.write(HANDLERS + 6, &[0x0f, 0x0b]);
    load(&mut cpu, &mut bus, CODE, |a| a.ud2());
    assert_eq!(cpu.run(&mut bus, 1000), Exit::Budget);
}

/// Regression (found by the x86_cpu fuzz target): x87 environment and FXSAVE-area accesses at
/// the top of the address space fault like any other access, instead of overflowing the
/// address arithmetic (a panic with overflow checks).
#[test]
fn state_images_at_the_top_of_the_address_space_fault() {
    let top = 0xffff_ffff_ffff_fff0u64;
    type Emit = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let cases: [Emit; 4] =
        [|a| a.fldenv(ptr(rbx)), |a| a.fnstenv(ptr(rbx)), |a| a.fxrstor(ptr(rbx)), |a| a.fxsave(ptr(rbx))];
    for f in cases {
        let (mut cpu, mut bus) = machine();
        // The last page is mapped; the image runs past it, wraps to address 0 (unmapped) and
        // faults there.
        bus.map(top & !0xfff, 0x70_0000, W);
        load(&mut cpu, &mut bus, CODE, |a| {
            a.mov(rbx, top)?;
            f(a)
        });
        assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
    }
}

/// Regression (found by the x86_cpu fuzz target): an IRETQ frame that runs past the top of the
/// address space faults instead of overflowing the address arithmetic.
#[test]
fn iretq_frame_at_the_top_of_the_address_space_faults() {
    let top = 0xffff_ffff_ffff_fff0u64;
    let (mut cpu, mut bus) = machine();
    bus.map(top & !0xfff, 0x70_0000, W);
    load(&mut cpu, &mut bus, CODE, |a| {
        a.mov(rsp, top)?;
        a.iretq()
    });
    assert_eq!(run_to_halt(&mut cpu, &mut bus), Some(14));
}
