"""RFC 8555 section 7.3.5 account key rollover, which the `acme` library has no message for:
the `keyChange` object as a typed message, the inner JWS signed by the new key with the
library's own ACME JWS, the outer one by the old key as every request."""

from __future__ import annotations

from acme import jws
from josepy.json_util import JSONObjectWithFields, field
from josepy.jwa import ES256, RS256, JWASignature
from josepy.jwk import JWK, JWKEC


class KeyChange(JSONObjectWithFields):
    """The inner payload: the account's URL and its current (old) public key."""

    account: str = field("account")
    old_key: JWK = field("oldKey", decoder=JWK.from_json)


def inner_jws(url: str, account_url: str, old_key: JWK, new_key: JWK) -> jws.JWS:
    """The request's payload: KeyChange signed by the new key, with `jwk` and `url` and no
    nonce (RFC 8555: the inner JWS has no nonce, its url is the outer one's)."""
    payload = KeyChange(account=account_url, old_key=old_key.public_key())
    signed: jws.JWS = jws.JWS.sign(payload.json_dumps().encode(), key=new_key,
                                   alg=algorithm(new_key), nonce=None, url=url)
    return signed


def algorithm(key: JWK) -> JWASignature:
    return ES256 if isinstance(key, JWKEC) else RS256
