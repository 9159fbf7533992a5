// The generated header compiles as C++ too (included twice: the guard must hold).
#include "inferkit.h"
#include "inferkit.h"

static_assert(INFERKIT_STATUS_OK == 0, "status numbers are stable");
static_assert(INFERKIT_DTYPE_F32 == 1, "dtype numbers are ONNX's");

int inferkit_header_compiles_as_cpp() { return static_cast<int>(INFERKIT_STATUS_DTYPE_MISMATCH); }
