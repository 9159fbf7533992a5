/* ProcessPrng, the one function of Windows' bcryptprimitives.dll that Rust's standard library
 * (1.78 and later) imports, for wine releases before 8.13, which lack the DLL (Debian 12 has 8.0).
 * It fills the buffer from RtlGenRandom (advapi32's SystemFunction036), as Windows' own does from
 * the system's generator. Built into the test prefix's system32 by .ci/test-windows.sh only when
 * wine has no bcryptprimitives.dll of its own; nothing that inferkit ships contains it. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
