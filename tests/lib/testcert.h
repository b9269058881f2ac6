/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A self-signed ECDSA P-256 certificate for "localhost", valid for a day,
 * written as PEM to CRT and KEY: the tests' one way to make one in process
 * (unit tests, both TLS libraries; the fault harness). Only calls OpenSSL
 * 3.0 and BoringSSL share.
 */
#ifndef TESTS_TESTCERT_H
#define TESTS_TESTCERT_H

#include <stdio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static inline EVP_PKEY *testcert__p256_key(void)
{
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *pk = NULL;

	if (kc && EVP_PKEY_keygen_init(kc) == 1 &&
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1) ==
		    1)
		EVP_PKEY_keygen(kc, &pk);
	EVP_PKEY_CTX_free(kc);
	return pk;
}

/* 0, or -1 when anything failed. */
static inline int testcert__make(const char *crt, const char *key)
{
	EVP_PKEY *pk = testcert__p256_key();
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f;
	int ok = pk && x;

	if (ok) {
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), -60);
		X509_gmtime_adj(X509_getm_notAfter(x), 86400);
		X509_set_pubkey(x, pk);
		n = X509_get_subject_name(x);
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					   (const unsigned char *)"localhost",
					   -1, -1, 0);
		X509_set_issuer_name(x, n);
		ok = X509_sign(x, pk, EVP_sha256()) > 0;
	}
	if (ok && (f = fopen(crt, "w"))) {
		ok = PEM_write_X509(f, x);
		fclose(f);
	} else {
		ok = 0;
	}
	if (ok && (f = fopen(key, "w"))) {
		ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	} else {
		ok = 0;
	}
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

#endif /* TESTS_TESTCERT_H */
