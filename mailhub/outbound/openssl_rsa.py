"""RSA signatures (PKCS #1 v1.5 over a SHA-256 digest) from the system's OpenSSL, called
through ctypes so that the interpreter lock is released while OpenSSL works.

Why not dkimpy or the `cryptography` package alone: dkimpy signs in Python (7.8 ms a
2048-bit signature, 128 messages/s); `cryptography` takes 0.96 ms but holds the lock, so
the sender's connection threads wait for each other's signatures. libcrypto through ctypes
takes 0.69 ms on this machine and runs beside the threads that talk SMTP (measured by
bench/fanout.py --dkim). When libcrypto 3 cannot be loaded, `rsa_signer` falls back to
`cryptography`, which gives the same signatures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from typing import Any

RSA_PKCS1_PADDING = 1
MAX_SIGNATURE = 1024  # bytes: room for an 8192-bit key
_VP = ctypes.c_void_p
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)


class OpenSSLUnavailable(RuntimeError):
    """libcrypto 3 is not there, or refused the key."""


def _library() -> Any:
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OpenSSLUnavailable("libcrypto not found")
    try:
        lib = ctypes.CDLL(name)
        functions = {
            "BIO_new_mem_buf": (_VP, [ctypes.c_char_p, ctypes.c_int]),
            "BIO_free": (ctypes.c_int, [_VP]),
            "PEM_read_bio_PrivateKey": (_VP, [_VP, _VP, _VP, _VP]),
            "EVP_PKEY_free": (None, [_VP]),
            "EVP_PKEY_CTX_new": (_VP, [_VP, _VP]),
            "EVP_PKEY_CTX_free": (None, [_VP]),
            "EVP_PKEY_sign_init": (ctypes.c_int, [_VP]),
            "EVP_PKEY_CTX_set_rsa_padding": (ctypes.c_int, [_VP, ctypes.c_int]),
            "EVP_PKEY_CTX_set_signature_md": (ctypes.c_int, [_VP, _VP]),
            "EVP_sha256": (_VP, []),
            "EVP_PKEY_sign": (
                ctypes.c_int,
                [_VP, ctypes.c_char_p, _SIZE_P, ctypes.c_char_p, ctypes.c_size_t],
            ),
        }
        for name_, (restype, argtypes) in functions.items():
            function = getattr(lib, name_)
            function.restype = restype
            function.argtypes = argtypes
    except (OSError, AttributeError) as exc:
        # AttributeError: OpenSSL 1.1 has these as macros, not functions.
        raise OpenSSLUnavailable(f"libcrypto 3 not usable: {exc}") from None
    return lib


class _SigningContext:
    """One thread's context for signing with one key, freed with it."""

    def __init__(self, lib: Any, key: int, sha256: int) -> None:
        self._lib = lib
        self.pointer = lib.EVP_PKEY_CTX_new(key, None)
        ready = (
            self.pointer
            and lib.EVP_PKEY_sign_init(self.pointer) == 1
            and lib.EVP_PKEY_CTX_set_rsa_padding(self.pointer, RSA_PKCS1_PADDING) == 1
            and lib.EVP_PKEY_CTX_set_signature_md(self.pointer, sha256) == 1
        )
        if not ready:
            raise OpenSSLUnavailable("libcrypto refused to sign with this key")

    def __del__(self) -> None:
        if getattr(self, "pointer", None):
            self._lib.EVP_PKEY_CTX_free(self.pointer)


class OpenSSLRsa:
    """One RSA private key held by libcrypto; `sign` may be called from many threads."""

    def __init__(self, pem: bytes) -> None:
        self._lib = _library()
        bio = self._lib.BIO_new_mem_buf(pem, len(pem))
        try:
            self._key = self._lib.PEM_read_bio_PrivateKey(bio, None, None, None)
        finally:
            self._lib.BIO_free(bio)
        if not self._key:
            raise OpenSSLUnavailable("libcrypto could not read the key")
        self._sha256 = self._lib.EVP_sha256()
        # A signing context per thread (contexts are not to be shared between threads),
        # set up once: setting one up per signature cost 30 µs of the ~400.
        self._contexts = threading.local()

    def sign(self, digest: bytes) -> bytes:
        """The signature of a SHA-256 ``digest``."""
        context = getattr(self._contexts, "context", None)
        if context is None:
            context = self._contexts.context = _SigningContext(self._lib, self._key, self._sha256)
        out = ctypes.create_string_buffer(MAX_SIGNATURE)
        size = ctypes.c_size_t(MAX_SIGNATURE)
        if self._lib.EVP_PKEY_sign(context.pointer, out, ctypes.byref(size), digest, 32) != 1:
            raise OpenSSLUnavailable("libcrypto refused to sign with this key")
        return out.raw[: size.value]

    def __del__(self) -> None:
        key = getattr(self, "_key", None)
        if key:
            self._lib.EVP_PKEY_free(key)


def rsa_signer(pem: bytes) -> Callable[[bytes], bytes]:
    """A function signing a SHA-256 digest with the RSA key in ``pem``: libcrypto when it
    can be loaded, else the `cryptography` package."""
    try:
        return OpenSSLRsa(pem).sign
    except OpenSSLUnavailable:
        pass
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    prehashed = utils.Prehashed(hashes.SHA256())
    return lambda digest: key.sign(digest, padding.PKCS1v15(), prehashed)
