/*
 * fuzz_blob: stored model blobs through blob_load, the loader of every
 * checkpoint the store reads back.
 *
 * Each input is tried twice: as it is (so the CRC check itself is
 * exercised) and with its last four bytes replaced by the right CRC-32 (so
 * mutations reach the header and count checks behind it). A blob that
 * loads must save back to the very same bytes (blob_save), load again when
 * its own layer sizes are expected and be refused for other sizes; one
 * that does not load fails with FAULT_CORRUPT and a message.
 */
#include "fuzz.h"

#include "blob.h"

static void
try_load(const uint8_t *data, size_t size)
{
	mlp_spec other;
	void *buf;
	size_t len;
	fault f;
	mlp *m, *again;

	fault_clear(&f);
	m = blob_load(data, size, NULL, &f);
	if (m == NULL) {
		FUZZ_ASSERT(f.code == FAULT_CORRUPT, "blob_load failed with %s: "
		    "%s", fault_code_name(f.code), f.msg);
		FUZZ_ASSERT(f.msg[0] != '\0', "blob_load failed silently");
		return;
	}
	FUZZ_ASSERT(blob_save(m, &buf, &len, &f) == 0, "blob_save: %s", f.msg);
	FUZZ_ASSERT(len == size, "%zu bytes saved back as %zu", size, len);
	FUZZ_ASSERT(memcmp(buf, data, size) == 0, "saved bytes differ");
	free(buf);
	again = blob_load(data, size, mlp_get_spec(m), &f);
	FUZZ_ASSERT(again != NULL, "refused with its own spec: %s", f.msg);
	mlp_destroy(again);
	other = *mlp_get_spec(m);
	other.sizes[0] = other.sizes[0] == 1 ? 2 : 1;
	FUZZ_ASSERT(blob_load(data, size, &other, &f) == NULL,
	    "loaded with other layer sizes");
	mlp_destroy(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	uint32_t crc;

	try_load(data, size);
	if (size < 4)
		return 0;
	fixed = malloc(size);
	FUZZ_ASSERT(fixed != NULL, "out of memory");
	memcpy(fixed, data, size);
	crc = blob_crc32(fixed, size - 4);
	for (int i = 0; i < 4; i++)
		fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	try_load(fixed, size);
	free(fixed);
	return 0;
}
