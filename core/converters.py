class AccountNumberConverter:
    """A customer account number in a URL (户号: digits and letters), so a stray byte such as
    %00 is a 404 at the router instead of reaching the database."""

    regex = "[0-9A-Za-z]{1,20}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
