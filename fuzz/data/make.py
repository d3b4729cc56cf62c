#!/usr/bin/env python3
"""Make the fixed key material of the fuzz targets, once: a CA, the
employer's key, certificate and PKCS#10 request, valid around the targets'
fixed clock (FUZZ_NOW in fuzz/common.h, 2026-12-01).  The files are
committed so that the seeds and the targets agree; run again only to
replace them (then make the seeds again too).  Needs python3-cryptography."""
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

UTC = datetime.timezone.utc
RAZON, RP, RFC, EMAIL = "EMPRESA DEMO SA DE CV", "Y1234567108", "EDE010101AB1", "rh@example.com"


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def save_key(k, path):
    open(path, "wb").write(k.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def certificate(subject, subject_key, issuer, issuer_key, serial, valid, is_ca, key_usage):
    """A certificate of subject_key signed by issuer_key, valid from and to
    the dates in valid, with key_usage the nine flags of x509.KeyUsage."""
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(subject_key.public_key()).serial_number(serial)
               .not_valid_before(datetime.datetime(*valid[0], tzinfo=UTC))
               .not_valid_after(datetime.datetime(*valid[1], tzinfo=UTC))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(*key_usage), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()),
                              critical=False))
    if issuer_key is not subject_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


ca_key, emp_key = key(), key()
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "IMSS Renew Fuzz CA")])
ca = certificate(ca_name, ca_key, ca_name, ca_key, 1, ((2026, 1, 1), (2036, 1, 1)), True,
                 (False, False, False, False, False, True, True, False, False))
subject = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, RAZON),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, RP),
    x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, RFC),
    x509.NameAttribute(NameOID.COMMON_NAME, RAZON),
    x509.NameAttribute(NameOID.EMAIL_ADDRESS, EMAIL),
])
cert = certificate(subject, emp_key, ca_name, ca_key, 0x1A2B3C, ((2026, 11, 1), (2027, 5, 1)), False,
                   (True, True, False, False, False, False, False, False, False))
csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(emp_key, hashes.SHA256())
save_key(ca_key, "ca.key")
save_key(emp_key, "employer.key")
open("ca.pem", "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open("employer.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open("employer.der", "wb").write(cert.public_bytes(serialization.Encoding.DER))
open("employer.csr.der", "wb").write(csr.public_bytes(serialization.Encoding.DER))
