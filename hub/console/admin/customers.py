"""Console pages for customer tags, profiles, segments, orders and interactions."""

from __future__ import annotations

from django.contrib import admin

from hub.console.admin.base import (
    ReadOnlyInlineMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    adopt,
    company_ids,
)
from hub.domain.customers.models import (
    CustomerInteraction,
    CustomerProfile,
    CustomerSegment,
    CustomerTag,
    Order,
    OrderItem,
)
from hub.domain.customers.services import (
    order_create,
    order_item_add,
    order_item_total,
    order_recalculate,
)


@admin.register(CustomerTag)
class CustomerTagAdmin(ScopedModelAdmin):
    list_display = ("name", "color", "company", "created_by", "created_at")
    list_filter = ("company",)
    ordering = ("name",)
    search_fields = ("name",)
    list_select_related = ("company", "created_by")
    autocomplete_fields = ("created_by",)


@admin.register(CustomerProfile)
class CustomerProfileAdmin(ScopedModelAdmin):
    company_path = "customer__companies__company"
    list_display = (
        "customer",
        "customer_type",
        "industry",
        "company_size",
        "lifetime_value",
        "total_orders",
        "last_order_date",
        "updated_at",
    )
    list_filter = ("customer_type", "tags")
    search_fields = (
        "customer__user__email",
        "customer__user__first_name",
        "customer__user__last_name",
        "industry",
    )
    list_select_related = ("customer__user",)
    autocomplete_fields = ("customer",)
    filter_horizontal = ("tags",)

    def save_related(self, request, form, formsets, change):
        # A profile is shared by every company of its customer, but each tag belongs to one
        # company: the form offers only the user's companies' tags, so keep the others.
        if change and not request.user.is_superuser and "tags" in form.cleaned_data:
            kept = list(form.instance.tags.exclude(company_id__in=company_ids(request)))
            form.cleaned_data["tags"] = [*form.cleaned_data["tags"], *kept]
        super().save_related(request, form, formsets, change)


@admin.register(CustomerSegment)
class CustomerSegmentAdmin(ScopedModelAdmin):
    list_display = ("name", "company", "created_by", "created_at", "updated_at")
    list_filter = ("company",)
    ordering = ("name",)
    search_fields = ("name", "description")
    list_select_related = ("company", "created_by")
    autocomplete_fields = ("created_by",)


class OrderItemInline(ReadOnlyInlineMixin, ScopedTabularInline):
    # Items are added through their own page, which totals them and the order (a service).
    model = OrderItem
    fields = (
        "product_name",
        "product_sku",
        "quantity",
        "unit_price",
        "discount",
        "tax",
        "total_price",
    )


@admin.register(Order)
class OrderAdmin(ScopedModelAdmin):
    list_display = (
        "order_number",
        "title",
        "company",
        "customer",
        "status",
        "payment_status",
        "total_amount",
        "currency",
        "order_date",
    )
    list_filter = ("status", "payment_status", "company")
    search_fields = ("order_number", "title", "tracking_number", "customer__user__email")
    list_select_related = ("company", "customer__user")
    autocomplete_fields = ("customer", "created_by")
    readonly_fields = ("total_amount",)  # the sum of the items
    date_hierarchy = "order_date"
    inlines = (OrderItemInline,)

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.save()
            return
        required = (
            "company",
            "customer",
            "order_number",
            "title",
            "shipping_address",
            "billing_address",
            "created_by",
        )
        fields = {name: getattr(obj, name) for name in form.cleaned_data if name not in required}
        adopt(obj, order_create(**{name: getattr(obj, name) for name in required}, **fields))


@admin.register(OrderItem)
class OrderItemAdmin(ScopedModelAdmin):
    company_path = "order__company"
    list_display = (
        "product_name",
        "product_sku",
        "order",
        "quantity",
        "unit_price",
        "discount",
        "tax",
        "total_price",
        "created_at",
    )
    list_filter = ("order__company",)
    search_fields = ("product_name", "product_sku", "order__order_number")
    list_select_related = ("order",)
    autocomplete_fields = ("order",)
    readonly_fields = ("total_price",)  # unit_price * quantity - discount + tax

    def write(self, request, obj, form, change) -> None:
        if not change:
            item = order_item_add(
                order=obj.order,
                product_name=obj.product_name,
                product_sku=obj.product_sku,
                unit_price=obj.unit_price,
                quantity=obj.quantity,
                discount=obj.discount,
                tax=obj.tax,
            )
            adopt(obj, item)
            return
        previous_order_id = OrderItem.objects.values_list("order_id", flat=True).get(pk=obj.pk)
        obj.total_price = order_item_total(
            unit_price=obj.unit_price, quantity=obj.quantity, discount=obj.discount, tax=obj.tax
        )
        obj.save()
        for order in Order.objects.filter(pk__in={previous_order_id, obj.order_id}):
            order_recalculate(order=order)

    def delete_model(self, request, obj) -> None:
        order = obj.order
        super().delete_model(request, obj)
        order_recalculate(order=order)

    def delete_queryset(self, request, queryset) -> None:
        order_ids = set(queryset.values_list("order_id", flat=True))
        super().delete_queryset(request, queryset)
        for order in Order.objects.filter(pk__in=order_ids):
            order_recalculate(order=order)


@admin.register(CustomerInteraction)
class CustomerInteractionAdmin(ScopedModelAdmin):
    list_display = (
        "subject",
        "interaction_type",
        "customer",
        "company",
        "user",
        "sentiment",
        "created_at",
    )
    list_filter = ("interaction_type", "sentiment", "company")
    search_fields = ("subject", "description", "customer__user__email")
    list_select_related = ("company", "customer__user", "user")
    autocomplete_fields = ("customer", "user")
    date_hierarchy = "created_at"
    current_user_fields = ("user",)
