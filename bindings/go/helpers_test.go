package inferkit_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// repoRoot is the inferkit repository (bindings/go is two levels down).
func repoRoot() string {
	if d := os.Getenv("INFERKIT_REPO"); d != "" {
		return d
	}
	abs, _ := filepath.Abs(filepath.Join("..", ".."))
	return abs
}

func fixture(name string) string { return filepath.Join(repoRoot(), "tests", "fixtures", name) }

func modelsDir() string { return filepath.Join(repoRoot(), "examples", "models") }

// packTensor is one tensor of a tensor pack (tests/fixtures/make_fixtures.py).
type packTensor struct {
	Name  string
	DType inferkit.DType
	Shape []int64
	Data  []byte
}

// readPack reads a .tpk file: "IKTP", u32 version 1, u32 count, then per tensor u32 name
// length, name, u32 dtype, u32 rank, rank i64 dims, u64 byte length, bytes (little-endian).
func readPack(t testing.TB, name string) []packTensor {
	t.Helper()
	raw, err := os.ReadFile(fixture(name))
	if err != nil {
		t.Fatalf("read pack %s: %v", name, err)
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	var magic [4]byte
	var version, count uint32
	must := func(err error) {
		if err != nil {
			t.Fatalf("pack %s: %v", name, err)
		}
	}
	_, err = io.ReadFull(r, magic[:])
	must(err)
	must(binary.Read(r, binary.LittleEndian, &version))
	must(binary.Read(r, binary.LittleEndian, &count))
	if string(magic[:]) != "IKTP" || version != 1 {
		t.Fatalf("pack %s: bad header", name)
	}
	out := make([]packTensor, count)
	for i := range out {
		var nameLen, dtype, rank uint32
		must(binary.Read(r, binary.LittleEndian, &nameLen))
		nb := make([]byte, nameLen)
		_, err = io.ReadFull(r, nb)
		must(err)
		must(binary.Read(r, binary.LittleEndian, &dtype))
		must(binary.Read(r, binary.LittleEndian, &rank))
		shape := make([]int64, rank)
		must(binary.Read(r, binary.LittleEndian, shape))
		var n uint64
		must(binary.Read(r, binary.LittleEndian, &n))
		data := make([]byte, n)
		_, err = io.ReadFull(r, data)
		must(err)
		out[i] = packTensor{string(nb), inferkit.DType(dtype), shape, data}
	}
	return out
}

func (p packTensor) floats() []float32 {
	f := make([]float32, len(p.Data)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(p.Data[4*i:]))
	}
	return f
}

func (p packTensor) tensor() *inferkit.Tensor {
	return inferkit.NewRawTensor(p.DType, p.Data, p.Shape...)
}

// closeTo compares floats: relative 1e-5 with an absolute floor of 1e-6, as the C tests do.
func closeTo(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		if d > 1e-5*math.Max(math.Abs(float64(a[i])), math.Abs(float64(b[i])))+1e-6 {
			return false
		}
	}
	return true
}

// wantCode fails the test unless err is an *Error of code whose message contains needle.
func wantCode(t testing.TB, err error, code inferkit.Code, needle string) {
	t.Helper()
	var e *inferkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %v error, got %T %v", code, err, err)
	}
	if e.Code != code {
		t.Fatalf("want %v, got %v: %v", code, e.Code, err)
	}
	if !strings.Contains(e.Message, needle) {
		t.Fatalf("want %q in the message of %v", needle, err)
	}
}

// osThreads reads the process's OS thread count from /proc/self/status.
func osThreads(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Skip("no Threads: line")
	return 0
}

func float32Bytes(f []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}
