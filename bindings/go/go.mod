module github.com/inferkit/inferkit/bindings/go

go 1.24
