//! CPUID: advertises exactly what this CPU implements.

use crate::cpu::Cpu;

/// CPUID.1:EDX bits.
mod edx1 {
    pub const FPU: u32 = 1 << 0;
    pub const DE: u32 = 1 << 2;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const PAE: u32 = 1 << 6;
    pub const CX8: u32 = 1 << 8;
    pub const APIC: u32 = 1 << 9;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const PAT: u32 = 1 << 16;
    pub const CLFSH: u32 = 1 << 19;
    pub const MMX: u32 = 1 << 23;
    pub const FXSR: u32 = 1 << 24;
    pub const SSE: u32 = 1 << 25;
    pub const SSE2: u32 = 1 << 26;
}

mod ecx1 {
    pub const CX16: u32 = 1 << 13;
    pub const POPCNT: u32 = 1 << 23;
    pub const TSC_DEADLINE: u32 = 1 << 24;
    pub const RDRAND: u32 = 1 << 30;
}

mod ext {
    // 0x8000_0001 EDX / ECX.
    pub const SYSCALL: u32 = 1 << 11;
    pub const NX: u32 = 1 << 20;
    pub const PAGE1GB: u32 = 1 << 26;
    pub const RDTSCP: u32 = 1 << 27;
    pub const LM: u32 = 1 << 29;
    pub const LAHF_LM: u32 = 1 << 0;
    pub const ABM: u32 = 1 << 5;
}

fn regs(s: &[u8; 16]) -> (u32, u32, u32, u32) {
    let w = |k: usize| u32::from_le_bytes(s[4 * k..4 * k + 4].try_into().unwrap());
    (w(0), w(1), w(2), w(3))
}

impl Cpu {
    /// CPUID leaf `leaf`, subleaf `sub`: (EAX, EBX, ECX, EDX).
    pub fn cpuid(&self, leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
        let _ = sub;
        match leaf {
            0 => (7, u32::from_le_bytes(*b"Genu"), u32::from_le_bytes(*b"ntel"), u32::from_le_bytes(*b"ineI")),
            1 => {
                // Family 6, model 0x3a, stepping 9.
                let eax = (3 << 16) | (6 << 8) | (0xa << 4) | 9;
                // CLFLUSH line size 8 qwords, one logical processor, APIC ID.
                let ebx = (8 << 8) | (1 << 16) | ((self.features.apic_id as u32) << 24);
                let mut ecx = ecx1::CX16 | ecx1::POPCNT;
                if self.features.tsc_deadline {
                    ecx |= ecx1::TSC_DEADLINE;
                }
                if self.features.rdrand {
                    ecx |= ecx1::RDRAND;
                }
                let edx = edx1::FPU
                    | edx1::DE
                    | edx1::PSE
                    | edx1::TSC
                    | edx1::MSR
                    | edx1::PAE
                    | edx1::CX8
                    | edx1::APIC
                    | edx1::PGE
                    | edx1::CMOV
                    | edx1::PAT
                    | edx1::CLFSH
                    | edx1::MMX
                    | edx1::FXSR
                    | edx1::SSE
                    | edx1::SSE2;
                (eax, ebx, ecx, edx)
            }
            0x8000_0000 => (0x8000_0008, 0, 0, 0),
            0x8000_0001 => {
                (0, 0, ext::LAHF_LM | ext::ABM, ext::SYSCALL | ext::NX | ext::PAGE1GB | ext::RDTSCP | ext::LM)
            }
            0x8000_0002..=0x8000_0004 => {
                let name = b"c2w virtual x86_64 CPU\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
                let k = (leaf - 0x8000_0002) as usize * 16;
                regs(name[k..k + 16].try_into().unwrap())
            }
            // Physical / linear address bits.
            0x8000_0008 => (crate::mmu::PHYS_BITS | (48 << 8), 0, 0, 0),
            // Leaves 2..7 (caches, topology, structured features): nothing advertised.
            _ => (0, 0, 0, 0),
        }
    }
}

/// Whether this CPU executes `code`: everything it needs is advertised by CPUID. Others decode
/// as invalid (#UD), as on a real CPU without the feature. TZCNT (F3 0F BC) is kept: without
/// BMI1 it is REP BSF, and executes as BSF.
///
/// Asked for every instruction decoded, so answered from a table made on first use (working
/// it out walks the code's feature list: 2% of a Node.js start-up).
pub fn advertised(code: iced_x86::Code, rdrand: bool) -> bool {
    static TABLE: std::sync::OnceLock<[Vec<bool>; 2]> = std::sync::OnceLock::new();
    let table = TABLE
        .get_or_init(|| [false, true].map(|r| iced_x86::Code::values().map(|c| needs_only_advertised(c, r)).collect()));
    table[rdrand as usize].get(code as usize).copied().unwrap_or(false)
}

fn needs_only_advertised(code: iced_x86::Code, rdrand: bool) -> bool {
    use iced_x86::CpuidFeature as F;
    if code == iced_x86::Code::INVALID {
        return true;
    }
    code.cpuid_features().iter().all(|f| {
        matches!(
            f,
            F::INTEL8086
                | F::INTEL186
                | F::INTEL286
                | F::INTEL386
                | F::INTEL486
                | F::X64
                | F::CMOV
                | F::CMPXCHG16B
                | F::CPUID
                | F::CX8
                | F::FPU
                | F::FPU287
                | F::FPU387
                | F::FXSR
                | F::MSR
                | F::MMX
                | F::MULTIBYTENOP
                | F::PAUSE
                | F::POPCNT
                | F::LZCNT
                | F::RDTSCP
                | F::SSE
                | F::SSE2
                | F::SYSCALL
                | F::TSC
                | F::CLFSH
                | F::CET_IBT
                | F::PREFETCHW
        ) || (*f == F::RDRAND && rdrand)
            || (*f == F::BMI1 && code == iced_x86::Code::Tzcnt_r16_rm16)
            || (*f == F::BMI1 && code == iced_x86::Code::Tzcnt_r32_rm32)
            || (*f == F::BMI1 && code == iced_x86::Code::Tzcnt_r64_rm64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_and_required_features() {
        let cpu = Cpu::new(4096);
        let (max, b, c, d) = cpu.cpuid(0, 0);
        assert!(max >= 1);
        let mut v = Vec::new();
        for r in [b, d, c] {
            v.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(&v, b"GenuineIntel");
        let (_, _, ecx, edx) = cpu.cpuid(1, 0);
        // What a 64-bit Linux requires (FPU PSE MSR PAE CX8 PGE CMOV FXSR SSE SSE2).
        let need = edx1::FPU | edx1::PSE | edx1::MSR | edx1::PAE | edx1::CX8 | edx1::PGE | edx1::CMOV | edx1::FXSR;
        assert_eq!(edx & need, need);
        // Nothing we do not implement: no SSE3+, no XSAVE/AVX, no x2APIC.
        assert_eq!(ecx & ((1 << 0) | (1 << 9) | (1 << 19) | (1 << 20) | (1 << 26) | (1 << 28) | (1 << 21)), 0);
        // MMX: part of the x86-64 baseline that glibc checks.
        assert_ne!(edx & edx1::MMX, 0);
        let (_, _, _, e) = cpu.cpuid(0x8000_0001, 0);
        assert_ne!(e & ext::LM, 0);
    }
}
