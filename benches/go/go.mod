module github.com/inferkit/inferkit/benches/go

go 1.24

require (
	github.com/inferkit/inferkit/bindings/go v0.0.0
	github.com/yalue/onnxruntime_go v1.27.0
)

replace github.com/inferkit/inferkit/bindings/go => ../../bindings/go
