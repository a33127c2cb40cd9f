module github.com/bpflow/bpflow

go 1.26
