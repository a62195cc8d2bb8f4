# detached signature of secrets/lab.yaml; check with `orc secrets verify secrets/lab.yaml`
format: orc-signature-v1
file: secrets/lab.yaml
version: 2
key: c1b1ed1568ed0721
signature: AbvFm/IMagMzdITlgIiIb+6FtYiXqKqhOCPz2ijKWfd55LSgLGcnw0AgwrUYKpFLPl0hPXjhJ6JRL7E2iQ0rDg==
