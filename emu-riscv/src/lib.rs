//! RV64GC machine.
