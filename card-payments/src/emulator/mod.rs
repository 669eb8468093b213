//! An emulator of both services (coming next on this branch).
