# root signatures of secrets/signers.yaml; check with `orc secrets root status`
format: orc-root-signature-v1
file: secrets/signers.yaml
version: 1
signature: ee2c6adf3b7b4dcc YJMgXvjyK8YmIYTld4B6IspRN+5S/nbKno0KK2uz4HQNtJlrYK3z79vrLciE77Kb+NoSAHMgKxsMTiQucWdvDw==
