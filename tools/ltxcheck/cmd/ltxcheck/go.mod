module goltx/ltxcheck

go 1.19

require (
	github.com/pierrec/lz4/v4 v4.1.23
	github.com/superfly/ltx v0.5.2
)

replace (
	github.com/pierrec/lz4/v4 => ../../src/lz4
	github.com/superfly/ltx => ../../src/ltx
)
