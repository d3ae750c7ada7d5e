/*
 * fuzz_onnx: POST /v1/models bodies of type application/onnx through
 * onnx_import, the decoder of every ONNX file a client sends.
 *
 * An input is refused with a fault of the import's kinds and a message,
 * with nothing left allocated (LeakSanitizer); or it is read as a valid
 * spec whose parameter block (read in full: ASan sees a short one) is
 * finite, and which exports and imports again to the same spec and the
 * same bits.
 */
#include "fuzz.h"

#include "onnx.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	onnx_net net, again;
	void *out;
	size_t len, n;
	fault f;

	fault_clear(&f);
	if (onnx_import(data, size, &net, &f) < 0) {
		FUZZ_ASSERT(f.code == FAULT_CORRUPT || f.code == FAULT_INVALID ||
		    f.code == FAULT_NONFINITE || f.code == FAULT_LIMIT,
		    "onnx_import failed with %s: %s", fault_code_name(f.code),
		    f.msg);
		FUZZ_ASSERT(f.msg[0] != '\0', "onnx_import failed silently");
		FUZZ_ASSERT(net.params == NULL && net.n_meta == 0,
		    "a refused import left something allocated");
		return 0;
	}
	FUZZ_ASSERT(mlp_spec_validate(&net.spec, &f) == 0, "imported spec: %s",
	    f.msg);
	n = mlp_spec_params(&net.spec);
	fuzz_check_finite(net.params, n, 1, "params");
	FUZZ_ASSERT(onnx_export(&net.spec, net.params, net.meta, net.n_meta,
	    &out, &len, &f) == 0, "export: %s", f.msg);
	FUZZ_ASSERT(onnx_import(out, len, &again, &f) == 0, "its own export "
	    "refused: %s", f.msg);
	FUZZ_ASSERT(again.spec.n_layers == net.spec.n_layers &&
	    memcmp(again.spec.sizes, net.spec.sizes,
	    sizeof net.spec.sizes) == 0 &&
	    memcmp(again.spec.act, net.spec.act, sizeof net.spec.act) == 0 &&
	    again.spec.loss == net.spec.loss, "the spec changed on the way");
	FUZZ_ASSERT(memcmp(again.params, net.params, n * sizeof(float)) == 0,
	    "the parameters changed on the way");
	FUZZ_ASSERT(again.n_meta == net.n_meta, "metadata lost");
	free(out);
	onnx_net_free(&again);
	onnx_net_free(&net);
	return 0;
}
