module github.com/superfly/ltx

go 1.19

require github.com/pierrec/lz4/v4 v4.1.23

replace github.com/pierrec/lz4/v4 => ../lz4
