package inferkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func Example() {
	m, err := inferkit.Open("../../tests/fixtures/mlp.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	x := make([]float32, 2*16) // two rows of 16 features
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := m.Infer(ctx, inferkit.Inputs{"x": inferkit.NewTensor(x, 2, 16)})
	if err != nil {
		fmt.Println(err)
		return
	}
	y, shape, err := inferkit.Output[float32](out, "y")
	fmt.Println(len(y), shape, err)
	// Output: 8 [2 4] <nil>
}

func ExampleError() {
	m, err := inferkit.Open("../../tests/fixtures/mlp.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	_, err = m.Infer(context.Background(), inferkit.Inputs{"x": inferkit.NewTensor([]float64{1, 2}, 1, 2)})
	var e *inferkit.Error
	fmt.Println(errors.Is(err, inferkit.ErrDtypeMismatch), errors.As(err, &e) && e.Code == inferkit.CodeDtypeMismatch)
	// Output: true true
}

func ExampleRegistry() {
	reg, err := inferkit.OpenRegistry("../../examples/models")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	m, err := reg.Label("classifier", "stable")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println(m.Name(), m.Version())
	// Output: classifier 1
}
