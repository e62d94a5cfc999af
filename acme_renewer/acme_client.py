"""The `acme` library's ClientV2, extended for batches: `replaces` in new orders (RFC 9773) and
single non-blocking looks at an order, so many orders are polled together in rounds instead
of each sleeping a second per poll as the library's own loops do."""

from __future__ import annotations

from acme import client, errors, messages
from cryptography import x509
from josepy.jwk import JWK

from acme_renewer.ari import ReplacingNewOrder
from acme_renewer.key_change import inner_jws


class BatchClient(client.ClientV2):
    """ClientV2 plus `replaces`, one-shot order status and certificate download, and the
    account key change the library lacks."""

    def change_key(self, new_key: JWK) -> None:
        """RFC 8555 7.3.5: ask the CA to bind the account to `new_key`; raises if it refuses.
        This client (the old key, the account's kid) signs the outer JWS."""
        account = self.net.account
        if account is None or self.net.key is None:
            raise errors.Error("register the ACME account before rolling its key over")
        url = self.directory["keyChange"]
        self._post(url, inner_jws(url, account.uri, self.net.key, new_key))

    def new_order(self, csr_pem: bytes, profile: str | None = None,
                  replaces: str | None = None) -> messages.OrderResource:
        if replaces is None:
            return super().new_order(csr_pem, profile)
        csr = x509.load_pem_x509_csr(csr_pem)
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name)
                       for name in sans.get_values_for_type(x509.DNSName)]
        order = ReplacingNewOrder(identifiers=identifiers, profile=profile or "",
                                  replaces=replaces)
        response = self._post(self.directory["newOrder"], order)
        body = messages.Order.from_json(response.json())
        authorizations = [self._authzr_from_response(self._post_as_get(url), uri=url)
                          for url in body.authorizations]
        return messages.OrderResource(body=body, uri=response.headers.get("Location"),
                                      authorizations=authorizations, csr_pem=csr_pem)

    def order_status(self, orderr: messages.OrderResource) -> messages.OrderResource:
        """One look at a finalized order; downloads the certificate once it is valid."""
        body = messages.Order.from_json(self._post_as_get(orderr.uri).json())
        if body.status == messages.STATUS_INVALID:
            if body.error is not None:
                raise errors.IssuanceError(body.error)
            raise errors.Error("the CA abandoned the order without saying why")
        if body.status == messages.STATUS_READY:  # finalize again (RFC 8555 section 7.4)
            return self.begin_finalization(orderr)
        if body.status == messages.STATUS_VALID and body.certificate is not None:
            updated: messages.OrderResource = orderr.update(
                body=body, fullchain_pem=self._post_as_get(body.certificate).text)
            return updated
        waiting: messages.OrderResource = orderr.update(body=body)
        return waiting
