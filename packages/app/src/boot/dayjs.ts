// dayjs with the plugins the app's date formats use (localised `ll`, `LT`), and its Chinese locales.
import dayjs from 'dayjs';
import localizedFormat from 'dayjs/plugin/localizedFormat';
import 'dayjs/locale/zh-tw';
import 'dayjs/locale/zh-cn';

dayjs.extend(localizedFormat);

export { dayjs };
