//! The Intel MultiProcessor Specification 1.4 table: how an ACPI-less kernel finds its local
//! APIC, its IOAPIC and the routing of ISA interrupts to IOAPIC pins. The floating pointer goes
//! in the BIOS area (0xF0000-0xFFFFF), which Linux scans.

/// One interrupt source the table routes to an IOAPIC pin.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// ISA IRQ number (the Linux IRQ number).
    pub irq: u8,
    pub pin: u8,
    /// Level-triggered, active high (else: as the ISA bus conforms: edge, active high).
    pub level: bool,
}

const LAPIC_VERSION: u8 = 0x14;
pub const IOAPIC_ID: u8 = 1;
const IOAPIC_VERSION: u8 = 0x11;
const MP_INT: u8 = 0;
const MP_NMI: u8 = 1;
const MP_EXTINT: u8 = 3;
/// MP_IRQPOL_ACTIVE_HIGH | MP_IRQTRIG_LEVEL.
const FLAGS_LEVEL_HIGH: u16 = 0x0d;

fn checksum_fix(bytes: &mut [u8], at: usize) {
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    bytes[at] = sum.wrapping_neg();
}

/// The floating pointer followed by the configuration table, to be placed at `addr`.
pub fn build(
    addr: u32,
    lapic_base: u32,
    ioapic_base: u32,
    cpu_signature: u32,
    cpu_features: u32,
    routes: &[Route],
) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut count = 0u16;
    // Processor: LAPIC id 0, enabled, bootstrap processor.
    entries.push(0u8);
    entries.push(0);
    entries.push(LAPIC_VERSION);
    entries.push(0x03);
    entries.extend_from_slice(&cpu_signature.to_le_bytes());
    entries.extend_from_slice(&cpu_features.to_le_bytes());
    entries.extend_from_slice(&[0; 8]);
    count += 1;
    // Bus 0: ISA.
    entries.extend_from_slice(&[1, 0]);
    entries.extend_from_slice(b"ISA   ");
    count += 1;
    // The IOAPIC.
    entries.extend_from_slice(&[2, IOAPIC_ID, IOAPIC_VERSION, 1]);
    entries.extend_from_slice(&ioapic_base.to_le_bytes());
    count += 1;
    for r in routes {
        let flags = if r.level { FLAGS_LEVEL_HIGH } else { 0 };
        entries.extend_from_slice(&[3, MP_INT]);
        entries.extend_from_slice(&flags.to_le_bytes());
        entries.extend_from_slice(&[0, r.irq, IOAPIC_ID, r.pin]);
        count += 1;
    }
    // LINT0: ExtINT from the 8259 (virtual wire), LINT1: NMI.
    for (ty, lint) in [(MP_EXTINT, 0u8), (MP_NMI, 1)] {
        entries.extend_from_slice(&[4, ty, 0, 0, 0, 0, 0xff, lint]);
        count += 1;
    }

    let table_len = 44 + entries.len();
    let mut t = Vec::with_capacity(16 + table_len);
    // Floating pointer: "_MP_", table address, length 1 (16 bytes), revision 1.4, checksum,
    // feature byte 1 = 0 (a table is present), feature byte 2 bit 7 clear (virtual wire mode).
    t.extend_from_slice(b"_MP_");
    t.extend_from_slice(&(addr + 16).to_le_bytes());
    t.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]);
    checksum_fix(&mut t[..16], 10);
    let start = t.len();
    t.extend_from_slice(b"PCMP");
    t.extend_from_slice(&(table_len as u16).to_le_bytes());
    t.extend_from_slice(&[4, 0]);
    t.extend_from_slice(b"C2W     ");
    t.extend_from_slice(b"c2w x86_64  ");
    t.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    t.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    t.extend_from_slice(&count.to_le_bytes());
    t.extend_from_slice(&lapic_base.to_le_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]); // extended table length, checksum, reserved
    t.extend_from_slice(&entries);
    checksum_fix(&mut t[start..], 7);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    #[test]
    fn table_is_well_formed() {
        let routes = [Route { irq: 0, pin: 2, level: false }, Route { irq: 5, pin: 5, level: true }];
        let t = build(0xf0000, 0xfee0_0000, 0xfec0_0000, 0x306a9, 0x1234, &routes);
        assert_eq!(&t[..4], b"_MP_");
        assert_eq!(sum(&t[..16]), 0);
        assert_eq!(u32::from_le_bytes(t[4..8].try_into().unwrap()), 0xf0010);
        let cfg = &t[16..];
        assert_eq!(&cfg[..4], b"PCMP");
        let len = u16::from_le_bytes([cfg[4], cfg[5]]) as usize;
        assert_eq!(len, cfg.len());
        assert_eq!(sum(cfg), 0);
        assert_eq!(u16::from_le_bytes([cfg[34], cfg[35]]), 3 + 2 + 2);
        assert_eq!(u32::from_le_bytes(cfg[36..40].try_into().unwrap()), 0xfee0_0000);
        // Entries: processor (20), bus (8), ioapic (8), then the routes.
        let e = &cfg[44 + 20 + 16..];
        assert_eq!(&e[..8], &[3, 0, 0, 0, 0, 0, IOAPIC_ID, 2]);
        assert_eq!(&e[8..16], &[3, 0, 0x0d, 0, 0, 5, IOAPIC_ID, 5]);
    }
}
