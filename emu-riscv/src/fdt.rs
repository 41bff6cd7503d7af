//! A flattened device tree (DTB) writer: just enough to describe the machine to Linux.

#[derive(Default)]
pub struct FdtWriter {
    structure: Vec<u8>,
    strings: Vec<u8>,
    depth: usize,
}

const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const END: u32 = 9;

impl FdtWriter {
    fn u32(&mut self, v: u32) {
        self.structure.extend_from_slice(&v.to_be_bytes());
    }
    fn pad(&mut self) {
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
    }

    pub fn begin_node(&mut self, name: &str) {
        self.u32(BEGIN_NODE);
        self.structure.extend_from_slice(name.as_bytes());
        self.structure.push(0);
        self.pad();
        self.depth += 1;
    }

    pub fn end_node(&mut self) {
        self.u32(END_NODE);
        self.depth -= 1;
    }

    fn string_offset(&mut self, name: &str) -> u32 {
        // Linear search is fine: a few dozen property names.
        let needle: Vec<u8> = name.bytes().chain([0]).collect();
        if let Some(pos) = self.strings.windows(needle.len()).position(|w| w == needle.as_slice()) {
            // Only reuse whole strings (the match must start a string).
            if pos == 0 || self.strings[pos - 1] == 0 {
                return pos as u32;
            }
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(&needle);
        off
    }

    pub fn prop(&mut self, name: &str, value: &[u8]) {
        let off = self.string_offset(name);
        self.u32(PROP);
        self.u32(value.len() as u32);
        self.u32(off);
        self.structure.extend_from_slice(value);
        self.pad();
    }

    pub fn prop_empty(&mut self, name: &str) {
        self.prop(name, &[]);
    }

    pub fn prop_u32(&mut self, name: &str, v: u32) {
        self.prop(name, &v.to_be_bytes());
    }

    pub fn prop_u32s(&mut self, name: &str, vs: &[u32]) {
        let b: Vec<u8> = vs.iter().flat_map(|v| v.to_be_bytes()).collect();
        self.prop(name, &b);
    }

    pub fn prop_u64(&mut self, name: &str, v: u64) {
        self.prop(name, &v.to_be_bytes());
    }

    /// `reg = <addr size>` with #address-cells = #size-cells = 2.
    pub fn prop_reg(&mut self, addr: u64, size: u64) {
        let b: Vec<u8> = [addr, size].iter().flat_map(|v| v.to_be_bytes()).collect();
        self.prop("reg", &b);
    }

    pub fn prop_str(&mut self, name: &str, s: &str) {
        let b: Vec<u8> = s.bytes().chain([0]).collect();
        self.prop(name, &b);
    }

    pub fn prop_strs(&mut self, name: &str, ss: &[&str]) {
        let b: Vec<u8> = ss.iter().flat_map(|s| s.bytes().chain([0])).collect();
        self.prop(name, &b);
    }

    pub fn finish(mut self) -> Vec<u8> {
        assert_eq!(self.depth, 0, "unbalanced device tree nodes");
        self.u32(END);
        let header_len = 40usize;
        let rsvmap_off = header_len;
        let rsvmap_len = 16; // one terminating empty entry
        let struct_off = rsvmap_off + rsvmap_len;
        let strings_off = struct_off + self.structure.len();
        let total = strings_off + self.strings.len();
        let mut out = Vec::with_capacity(total);
        for v in [
            0xd00d_feedu32,
            total as u32,
            struct_off as u32,
            strings_off as u32,
            rsvmap_off as u32,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structure.len() as u32,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.structure);
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtc_can_read_it() {
        let mut w = FdtWriter::default();
        w.begin_node("");
        w.prop_u32("#address-cells", 2);
        w.prop_str("model", "c2w");
        w.begin_node("memory@80000000");
        w.prop_str("device_type", "memory");
        w.prop_reg(0x8000_0000, 0x1000_0000);
        w.end_node();
        w.end_node();
        let dtb = w.finish();
        assert_eq!(&dtb[..4], &[0xd0, 0x0d, 0xfe, 0xed]);
        // Decompile with dtc when it is installed: the real check of the format.
        let path = std::env::temp_dir().join(format!("c2w-fdt-{}.dtb", std::process::id()));
        std::fs::write(&path, &dtb).unwrap();
        if let Ok(out) = std::process::Command::new("dtc").args(["-I", "dtb", "-O", "dts"]).arg(&path).output() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(text.contains("reg = <0x00 0x80000000 0x00 0x10000000>;"), "{text}");
            assert!(text.contains("model = \"c2w\";"));
        }
        let _ = std::fs::remove_file(path);
    }
}
