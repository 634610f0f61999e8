#!/usr/bin/env bash
# Generates the throwaway PKI the TLS tests use, with the openssl CLI:
#
#   scripts/gen-test-certs.sh OUTDIR
#
# OUTDIR gets a test CA (ca.pem/ca.key), server certificates signed by it
# (mail-rsa, mail-ecdsa, other, backend), an encrypted copy of the mail RSA key
# (mail-rsa-enc.key; passwords.txt holds a wrong password then the right one,
# since nginx's ssl_password_file tries each line), client certificates
# (client: CN=alice by the CA; rogue-client by an untrusted rogue CA; a
# revoked-client listed in ca.crl), dhparam.pem and session ticket key files
# (ticket1.key, ticket2.key: 80 bytes; ticket48.key: 48 bytes).
#
# Idempotent: a complete OUTDIR (marked by .complete) is left as it is. Work
# happens in a private staging directory under a lock on OUTDIR/.lock.
# Certificates and public files are 0644, keys 0600.
set -euo pipefail

out=${1:?usage: gen-test-certs.sh OUTDIR}
mkdir -p "$out"
[ -f "$out/.complete" ] && exit 0
# Concurrent runs into one OUTDIR: the first generates, the others wait and
# find it complete (never a certificate from one run with a key from another).
exec 9>"$out/.lock"
flock 9
[ -f "$out/.complete" ] && exit 0

stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cd "$stage"

days=3650
quiet() { "$@" >/dev/null 2>&1 || { echo "gen-test-certs: failed: $*" >&2; "$@" >&2; exit 1; }; }

# A CA: self-signed, with CA:true so OpenSSL accepts it as an issuer.
make_ca() { # name subject
    quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" \
        -days $days -subj "$2" \
        -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# A leaf signed by a CA. Arguments: name keyalg-args ca subject extfile-content
make_leaf() {
    local name=$1 keyargs=$2 ca=$3 subject=$4 ext=$5
    # shellcheck disable=SC2086
    quiet openssl req -new -newkey $keyargs -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject"
    printf '%s\n' "$ext" > "$name.ext"
    quiet openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -days $days -out "$name.pem" -extfile "$name.ext"
    rm -f "$name.csr" "$name.ext"
}

server_ext() { printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s' "$1"; }
client_ext='basicConstraints=CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'

make_ca ca "/O=Postern Test/CN=Postern Test CA"
make_ca rogue-ca "/O=Rogue/CN=Rogue CA"

make_leaf mail-rsa "rsa:2048" ca "/O=Postern Test/CN=mail.test" "$(server_ext DNS:mail.test)"
make_leaf mail-ecdsa "ec -pkeyopt ec_paramgen_curve:P-256" ca "/O=Postern Test/CN=mail.test" "$(server_ext DNS:mail.test)"
make_leaf other "rsa:2048" ca "/O=Postern Test/CN=other.test" "$(server_ext DNS:other.test)"
make_leaf backend "rsa:2048" ca "/O=Postern Test/CN=localhost" "$(server_ext DNS:localhost,IP:127.0.0.1)"
make_leaf client "rsa:2048" ca "/O=Postern Test/CN=alice" "$client_ext"
make_leaf revoked-client "rsa:2048" ca "/O=Postern Test/CN=mallory" "$client_ext"
make_leaf rogue-client "rsa:2048" rogue-ca "/O=Rogue/CN=alice" "$client_ext"

# Encrypted copy of the mail RSA key; line 1 is wrong, line 2 opens it.
printf 'not-the-password\npostern-secret\n' > passwords.txt
quiet openssl pkey -in mail-rsa.key -aes256 -passout pass:postern-secret -out mail-rsa-enc.key

# A CRL from the CA revoking revoked-client, through a minimal `openssl ca` database.
mkdir -p cadb
: > cadb/index.txt
echo 1000 > cadb/crlnumber
cat > cadb/ca.cnf <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $stage/cadb/index.txt
crlnumber = $stage/cadb/crlnumber
certificate = $stage/ca.pem
private_key = $stage/ca.key
default_md = sha256
default_crl_days = $days
EOF
quiet openssl ca -config cadb/ca.cnf -revoke revoked-client.pem
quiet openssl ca -config cadb/ca.cnf -gencrl -out ca.crl
rm -rf cadb

# DSA-style parameters generate in well under a second (nginx accepts any DH params file).
quiet openssl dhparam -dsaparam -out dhparam.pem 2048

head -c 80 /dev/urandom > ticket1.key
head -c 80 /dev/urandom > ticket2.key
head -c 48 /dev/urandom > ticket48.key

rm -f ./*.srl
chmod 0644 ./*.pem ca.crl passwords.txt
chmod 0600 ./*.key
for f in *; do mv -f "$f" "$out/$f"; done
touch "$out/.complete"
