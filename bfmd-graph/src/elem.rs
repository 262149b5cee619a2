//! Typed views of byte buffers (model constants and arena regions), checked rather than assumed.

use crate::ops::DType;
use bfmd_kernels::half::f16;

/// An element type a tensor can hold: every bit pattern is a valid value, there is no padding,
/// and the size is a power of two.
///
/// # Safety
///
/// Implementors must be plain old data: `Copy`, no padding bytes, every bit pattern valid, and
/// `align_of::<Self>() <= size_of::<Self>()`. Only the four tensor element types implement it.
pub unsafe trait Element: Copy + 'static {
    /// The tensor element type this Rust type stores.
    const DTYPE: DType;
}

// SAFETY: i8 is one byte, any bit pattern is a valid value.
unsafe impl Element for i8 {
    const DTYPE: DType = DType::S8;
}
// SAFETY: i32 has no padding and any bit pattern is a valid value.
unsafe impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
// SAFETY: f32 has no padding and any bit pattern (including NaNs) is a valid value.
unsafe impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
// SAFETY: half::f16 is a `repr(transparent)` wrapper of u16; any bit pattern is a valid value.
unsafe impl Element for f16 {
    const DTYPE: DType = DType::F16;
}

/// Views `bytes` as `&[T]`; `None` when the address is not aligned for `T` or the length is not
/// a multiple of `T`'s size.
pub fn cast<T: Element>(bytes: &[u8]) -> Option<&[T]> {
    let size = core::mem::size_of::<T>();
    if (bytes.as_ptr() as usize) % core::mem::align_of::<T>() != 0 || bytes.len() % size != 0 {
        return None;
    }
    // SAFETY: the pointer is aligned for T (checked above), the length covers exactly
    // `len / size` whole elements inside `bytes`, T is plain old data (the `Element` contract),
    // and the returned slice borrows `bytes`, so it cannot outlive or alias a mutable borrow.
    Some(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Views `bytes` as `&mut [T]`; `None` when misaligned or of a length that is not a multiple of
/// `T`'s size.
pub fn cast_mut<T: Element>(bytes: &mut [u8]) -> Option<&mut [T]> {
    let size = core::mem::size_of::<T>();
    if (bytes.as_ptr() as usize) % core::mem::align_of::<T>() != 0 || bytes.len() % size != 0 {
        return None;
    }
    // SAFETY: as in `cast`; in addition the mutable borrow of `bytes` is moved into the result,
    // so no other reference to these bytes exists while it lives, and writing any T writes valid
    // bytes back.
    Some(unsafe {
        core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / size)
    })
}

/// The bytes of a `u128` buffer (host-side aligned storage of model blobs).
#[cfg(feature = "std")]
pub(crate) fn cast_words(words: &[u128]) -> &[u8] {
    // SAFETY: u8 has alignment 1 and no invalid bit patterns; the byte slice covers exactly the
    // words' memory and borrows `words`.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 16) }
}

/// The bytes of a `u128` buffer, writable.
#[cfg(feature = "std")]
pub(crate) fn cast_words_mut(words: &mut [u128]) -> &mut [u8] {
    // SAFETY: as in `cast_words`; the mutable borrow of `words` moves into the result, and any
    // byte pattern written back is a valid u128.
    unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 16) }
}
