"""Customer tags, profiles, segments, orders and interactions (``customers_*``)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from hub.domain.common import choices_check

User = settings.AUTH_USER_MODEL
Company = "authentication.Company"
Customer = "authentication.Customer"


class CustomerType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    BUSINESS = "business", "Business"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class InteractionType(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    MEETING = "meeting", "Meeting"
    SUPPORT = "support", "Support"
    PURCHASE = "purchase", "Purchase"
    INQUIRY = "inquiry", "Inquiry"


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class CustomerTag(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customer_tags")
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, default="#4c6fff")
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "customers_customertag"
        indexes = [models.Index(fields=["company", "name"], name="customers_tag_co_name_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="customers_customertag_company_name_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CustomerProfile(models.Model):
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="profile")
    customer_type = models.CharField(
        max_length=20, choices=CustomerType.choices, default=CustomerType.INDIVIDUAL
    )
    company_size = models.CharField(max_length=50, null=True, blank=True)
    industry = models.CharField(max_length=100, null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    preferences = models.JSONField(default=dict, blank=True)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    total_orders = models.IntegerField(default=0)
    last_order_date = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    tags = models.ManyToManyField(CustomerTag, blank=True, related_name="profiles")

    class Meta:
        db_table = "customers_customerprofile"
        constraints = [choices_check("customers_customerprofile", "customer_type", CustomerType)]

    def __str__(self) -> str:
        return f"Profile of {self.customer}"


class CustomerSegment(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customer_segments")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    criteria = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "customers_customersegment"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="customers_customersegment_company_name_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    order_number = models.CharField(max_length=50, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    order_date = models.DateTimeField(auto_now_add=True, db_index=True)
    expected_delivery_date = models.DateField(null=True, blank=True)
    actual_delivery_date = models.DateField(null=True, blank=True)
    shipping_address = models.TextField()
    billing_address = models.TextField()
    payment_method = models.CharField(max_length=50, blank=True, default="")
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    tracking_number = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "customers_order"
        indexes = [
            models.Index(fields=["company", "customer"], name="customers_order_co_cust_idx"),
            models.Index(fields=["company", "status"], name="customers_order_co_status_idx"),
        ]
        constraints = [
            choices_check("customers_order", "status", OrderStatus),
            choices_check("customers_order", "payment_status", PaymentStatus),
        ]

    def __str__(self) -> str:
        return self.order_number


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_name = models.CharField(max_length=255)
    product_sku = models.CharField(max_length=100, blank=True, default="")
    quantity = models.IntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    discount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    tax = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    total_price = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "customers_orderitem"

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name}"


class CustomerInteraction(models.Model):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="customer_interactions"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    interaction_type = models.CharField(
        max_length=20, choices=InteractionType.choices, db_index=True
    )
    subject = models.CharField(max_length=255)
    description = models.TextField()
    sentiment = models.CharField(max_length=20, choices=Sentiment.choices, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "customers_customerinteraction"
        indexes = [
            models.Index(fields=["company", "customer"], name="customers_int_co_cust_idx"),
            models.Index(fields=["company", "interaction_type"], name="customers_int_co_type_idx"),
        ]
        constraints = [
            choices_check("customers_customerinteraction", "interaction_type", InteractionType),
            choices_check("customers_customerinteraction", "sentiment", Sentiment, nullable=True),
        ]

    def __str__(self) -> str:
        return self.subject
