"""Runner-side helpers (hooks) of mmpfcn."""
