//! Pure rules of authentication: opaque session tokens, transaction PINs, TOTP codes, device
//! keys and the biometric challenge. No I/O; callers bring the clock and the stored state.

pub mod biometric;
pub mod device_key;
pub mod pin;
pub mod tokens;
pub mod totp;
