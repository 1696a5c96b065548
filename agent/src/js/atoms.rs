//! Property keys made once and held until the script's runtime closes, for native code on hot
//! paths (the native `emit`, `mqtt.publish`): making an atom from text is a hash lookup per call.

use std::ffi::CStr;

use rquickjs::{qjs, Ctx, Value};

use super::Shared;

/// Atoms held for the runtime's life; [`HeldAtoms::install`] releases them when it closes.
/// Copies of the raw atoms stay valid until then.
pub struct HeldAtoms {
    rt: *mut qjs::JSRuntime,
    atoms: Vec<qjs::JSAtom>,
}

impl HeldAtoms {
    /// The atoms of `names`, in order, released by a close hook of `shared`.
    pub fn install<const N: usize>(
        ctx: &Ctx<'_>,
        shared: &Shared,
        names: [&CStr; N],
    ) -> rquickjs::Result<[qjs::JSAtom; N]> {
        let raw = ctx.as_raw().as_ptr();
        let mut held = HeldAtoms {
            // SAFETY: the context is live; its runtime outlives the atoms (see `release`).
            rt: unsafe { qjs::JS_GetRuntime(raw) },
            atoms: Vec::with_capacity(N),
        };
        for name in names {
            // SAFETY: the context is live; the atom is released in `release`.
            let a = unsafe { qjs::JS_NewAtom(raw, name.as_ptr()) };
            if a == qjs::JS_ATOM_NULL {
                held.release();
                return Err(rquickjs::Error::Exception); // out of memory, pending in the context
            }
            held.atoms.push(a);
        }
        let mut atoms = [qjs::JS_ATOM_NULL; N];
        atoms.copy_from_slice(&held.atoms);
        shared.on_close(move || held.release());
        Ok(atoms)
    }

    /// Releases the atoms; runs when the script's runtime closes, after the last call.
    fn release(self) {
        for a in self.atoms {
            // SAFETY: each was made in `install` and the runtime is still alive.
            unsafe { qjs::JS_FreeAtomRT(self.rt, a) }
        }
    }
}

/// `obj[atom]`, read as JS reads it (getters and the prototype chain included).
pub fn get<'js>(
    ctx: &Ctx<'js>,
    obj: &Value<'js>,
    atom: qjs::JSAtom,
) -> rquickjs::Result<Value<'js>> {
    // SAFETY: the context and `obj` are live; `atom` is held (see HeldAtoms); the result is
    // owned and handed to Value.
    unsafe {
        let v = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), obj.as_raw(), atom);
        if qjs::JS_IsException(v) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), v))
    }
}
