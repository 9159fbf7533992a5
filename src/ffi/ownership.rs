//! One typed mechanism for every handle the C ABI hands out (after rustls-ffi's `Castable`).
//!
//! A C handle type (`inferkit_model`, `inferkit_request`, …) is an opaque, never-constructed Rust
//! type. Its [`Castable`] impl names the Rust type its pointers point to and how the caller holds
//! it:
//!
//! - [`OwnershipBox`]: the caller owns a `Box<RustType>` and releases it once (`_free`/`_close`).
//! - [`OwnershipArc`]: the caller owns one strong count of an `Arc<RustType>`; `_clone` adds one,
//!   `_close` drops one. Models are shared this way.
//!
//! Pointers lent out of another object (a value inside outputs, a tensor inside a value) are made
//! with [`lend`] and never released by the caller, whatever the type's ownership.
//!
//! Every conversion between a C pointer and a Rust reference, box or `Arc` goes through the
//! functions here, so the casts and their safety arguments are written once.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The caller owns a `Box` of the Rust type.
pub(crate) struct OwnershipBox;
/// The caller owns a strong count of an `Arc` of the Rust type.
pub(crate) struct OwnershipArc;
/// The caller never owns one: pointers are only lent out of another object ([`lend`]).
pub(crate) struct OwnershipRef;

/// A C handle type and the Rust type behind its pointers.
pub(crate) trait Castable {
    /// [`OwnershipBox`], [`OwnershipArc`] or [`OwnershipRef`].
    type Ownership;
    /// What a pointer to the handle type points to.
    type RustType;
}

/// The body every opaque handle type has: no fields C can see, never constructed, neither `Send`
/// nor `Sync` by itself (the Rust type behind it decides).
pub(crate) type Opaque = PhantomData<*const u8>;

/// A shared reference to the object behind a handle that must not be NULL.
pub(crate) fn try_ref<'a, C: Castable>(
    ptr: *const C,
    name: &'static str,
) -> Result<&'a C::RustType> {
    // SAFETY: handles point to a live `RustType` made by this module (documented on every
    // function that takes one); NULL is checked.
    unsafe { ptr.cast::<C::RustType>().as_ref() }.ok_or(Error::NullArgument { name })
}

/// A unique reference to the object behind a boxed handle that must not be NULL.
pub(crate) fn try_mut<'a, C: Castable<Ownership = OwnershipBox>>(
    ptr: *mut C,
    name: &'static str,
) -> Result<&'a mut C::RustType> {
    // SAFETY: as for `try_ref`; the documentation of every function taking a mutable handle says
    // it must not be used from another thread during the call.
    unsafe { ptr.cast::<C::RustType>().as_mut() }.ok_or(Error::NullArgument { name })
}

/// A pointer lent out of an object the caller holds: valid while that object lives, never freed
/// by the caller.
pub(crate) fn lend<C: Castable>(value: &C::RustType) -> *const C {
    (value as *const C::RustType).cast()
}

/// A new boxed handle.
pub(crate) fn boxed<C: Castable<Ownership = OwnershipBox>>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Hands a new boxed handle to the caller through an out-parameter. A NULL out-parameter means
/// "not wanted": the object is released here instead of leaking.
pub(crate) fn give_box<C: Castable<Ownership = OwnershipBox>>(
    out: *mut *mut C,
    value: C::RustType,
) {
    if out.is_null() {
        drop(value);
    } else {
        // SAFETY: non-NULL out-parameters point to writable storage for a pointer.
        unsafe { out.write(boxed(value)) };
    }
}

/// Releases a boxed handle; NULL does nothing.
pub(crate) fn free_box<C: Castable<Ownership = OwnershipBox>>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: `ptr` came from `boxed` for this type and is released once (the documented
        // contract of every `_free`/`_close`).
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// A new shared handle holding one strong count.
pub(crate) fn shared<C: Castable<Ownership = OwnershipArc>>(value: Arc<C::RustType>) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// A new strong count of the object behind a shared handle that must not be NULL: the object stays
/// alive as long as the returned `Arc`, whatever the caller does with its handles meanwhile.
pub(crate) fn try_clone_arc<C: Castable<Ownership = OwnershipArc>>(
    ptr: *const C,
    name: &'static str,
) -> Result<Arc<C::RustType>> {
    if ptr.is_null() {
        return Err(Error::NullArgument { name });
    }
    let ptr = ptr.cast::<C::RustType>();
    // SAFETY: `ptr` came from `shared` for this type and the caller's count is still held (the
    // handle has not been closed), so the count is at least 1 while it is raised.
    unsafe {
        Arc::increment_strong_count(ptr);
        Ok(Arc::from_raw(ptr))
    }
}

/// Drops the caller's strong count of a shared handle; NULL does nothing.
pub(crate) fn free_arc<C: Castable<Ownership = OwnershipArc>>(ptr: *const C) {
    if !ptr.is_null() {
        // SAFETY: `ptr` came from `shared` for this type and each count is dropped once.
        drop(unsafe { Arc::from_raw(ptr.cast::<C::RustType>()) });
    }
}
