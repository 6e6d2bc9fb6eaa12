module projectboard

go 1.26.8

require (
	github.com/alexedwards/argon2id v1.0.0
	go.etcd.io/bbolt v1.5.0
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
